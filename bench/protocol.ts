// Messages between the orchestrator and its child processes (publisher, bare subscriber),
// over Node's IPC channel. Control only: entries never cross it.

export interface PublisherArgs {
  readonly natsUrl: string;
  /** nats-server monitoring endpoint, for flow control (`/connz` pending bytes). */
  readonly monitorUrl: string;
  readonly poolSize: number;
  readonly seed: number;
}

export type PublisherCommand =
  /**
   * Publish `count` entries as fast as the named subscriber connection takes them and, with
   * `windowEntries`, never more than that many ahead of what the receiver has counted (see `credit`).
   */
  | { readonly cmd: 'full'; readonly count: number; readonly flowConnection: string; readonly windowEntries?: number }
  /** Entries the receiver has counted so far in this run (sent every few ms while `full` runs). */
  | { readonly cmd: 'credit'; readonly delivered: number }
  /** Publish `rate` entries per second for `seconds`, each stamped with its publish time. */
  | { readonly cmd: 'fixed'; readonly rate: number; readonly seconds: number }
  | { readonly cmd: 'exit' };

export interface PublishDone {
  readonly ev: 'done';
  readonly published: number;
  /** Payload bytes published. */
  readonly bytes: number;
  /** Wall clock (ms since epoch) of the first publish and of the last flush's completion. */
  readonly startedAt: number;
  readonly finishedAt: number;
  /** Times the publisher waited for the subscriber's NATS backlog to drain (full speed only). */
  readonly flowPauses: number;
  /** Times the publisher waited for deliveries to catch up with the window (full speed only). */
  readonly windowPauses: number;
  /** Largest server-side backlog seen for the subscriber connection, bytes. */
  readonly maxPendingBytes: number;
}

export type PublisherEvent =
  | { readonly ev: 'ready'; readonly poolSize: number; readonly poolBytes: number; readonly kinds: Readonly<Record<string, number>> }
  | PublishDone
  | { readonly ev: 'error'; readonly message: string };

export interface BareArgs {
  readonly natsUrl: string;
  readonly subject: string;
  /** Connection name, so the publisher can find it in `/connz`. */
  readonly name: string;
}

export type BareCommand = { readonly cmd: 'expect'; readonly count: number } | { readonly cmd: 'count' } | { readonly cmd: 'exit' };

export type BareEvent =
  | { readonly ev: 'ready' }
  | { readonly ev: 'reached'; readonly count: number; readonly at: number }
  | { readonly ev: 'count'; readonly count: number; readonly parseErrors: number }
  | { readonly ev: 'error'; readonly message: string };

/** The connection names the flow control looks for. The agent names its own connection "logferry". */
export const AGENT_CONNECTION_NAME = 'logferry';
export const BARE_CONNECTION_NAME = 'bench-bare-subscriber';
