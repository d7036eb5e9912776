// AppSignal's Vector endpoint takes a JSON array of events, each log event under "log".
// The entry's own bytes go inside the wrapper: no parse, no re-serialisation.
export function appsignalLine(line: string): string {
  return `{"log":${line}}`;
}
