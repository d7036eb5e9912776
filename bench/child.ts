// A forked child process that speaks the protocol in protocol.ts: send commands, await events.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProcessCgroup } from './vm-memory.js';

/** How the child runs: extra environment, node flags, and a memory cgroup to start in. */
export interface ChildRuntime {
  readonly env?: Readonly<Record<string, string>>;
  readonly nodeFlags?: readonly string[];
  readonly cgroup?: ProcessCgroup | undefined;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export class BenchChild<Command, Event extends { readonly ev: string }> {
  readonly process: ChildProcess;
  readonly label: string;
  readonly #events: Event[] = [];
  readonly #waiters = new Set<() => void>();
  #exit: string | undefined;
  #stderr = '';

  constructor(label: string, script: URL, args: unknown, runtime: ChildRuntime = {}) {
    this.label = label;
    const nodeFlags = [...(runtime.nodeFlags ?? [])];
    // In a cgroup: /bin/sh joins it, then execs node (fork runs execPath with execArgv, the script, its args).
    const [execPath, execArgv] = runtime.cgroup !== undefined ? runtime.cgroup.wrap(process.execPath, nodeFlags) : [process.execPath, nodeFlags];
    this.process = fork(fileURLToPath(script), [JSON.stringify(args)], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      execPath,
      execArgv,
      env: { ...process.env, ...runtime.env },
    });
    children.add(this.process);
    this.process.stderr?.on('data', (c: Buffer) => {
      this.#stderr = (this.#stderr + c.toString('utf8')).slice(-4000);
    });
    this.process.on('message', (m) => {
      this.#events.push(m as Event);
      this.#wake();
    });
    this.process.once('exit', (code, signal) => {
      children.delete(this.process);
      this.#exit = `exited (code ${code}, signal ${signal})`;
      this.#wake();
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  send(command: Command): void {
    this.process.send(command as object);
  }

  /** The first not-yet-consumed event named `ev` (an `error` event rejects), waiting up to `timeoutMs`. */
  async next<K extends Event['ev']>(ev: K, timeoutMs: number): Promise<Extract<Event, { ev: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#events.findIndex((e) => e.ev === ev || e.ev === 'error');
      if (i >= 0) {
        const [e] = this.#events.splice(i, 1);
        if (e!.ev === 'error') throw new Error(`${this.label}: ${(e as unknown as { message: string }).message}`);
        return e as Extract<Event, { ev: K }>;
      }
      if (this.#exit !== undefined) throw new Error(`${this.label} ${this.#exit} while waiting for "${ev}"\n${this.#stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no "${ev}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  /** Asks the child to exit (SIGKILL if it has not within 5 s). */
  async stop(exitCommand: Command): Promise<void> {
    if (this.#exit !== undefined) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    try {
      this.send(exitCommand);
    } catch {
      this.process.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
