// AppSignal's Vector endpoint takes a JSON array of events, each log event under "log".
// The entry's own bytes go inside the wrapper: no parse, no re-serialisation, one copy.
export const APPSIGNAL_WRAP = { prefix: '{"log":', suffix: '}' } as const;
