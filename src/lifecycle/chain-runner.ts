import type { Context } from '../context/context.js';
import type { Handler, Pipeline } from './pipeline.js';

/**
 * Runs the pipeline for one Context at a time on behalf of a connection (or a WebSocket
 * session), resuming a suspended step with callbacks made once per runner: no async function
 * and no extra promises per request or message.
 */
export class ChainRunner {
  private ctx: Context | null = null;
  private route: Handler | null = null;
  private autoSend = true;
  private readonly pipeline: Pipeline;
  private readonly onDone: () => void;
  private readonly onFailure: (error: unknown) => void;
  private readonly fulfilled = (): void => this.resume();
  private readonly rejected = (error: unknown): void => this.fail(error);
  private readonly finished = (): void => this.finish();

  /**
   * @param pipeline - the compiled chain
   * @param onDone - called when a run that suspended has ended (not for synchronous runs)
   * @param onFailure - called if the chain itself throws while resuming (a bug or transport failure)
   */
  constructor(pipeline: Pipeline, onDone: () => void, onFailure: (error: unknown) => void) {
    this.pipeline = pipeline;
    this.onDone = onDone;
    this.onFailure = onFailure;
  }

  /**
   * Starts the chain for `ctx`.
   * @returns true when it completed synchronously; otherwise `onDone` is called once it ends
   */
  run(ctx: Context, route: Handler, autoSend: boolean): boolean {
    this.ctx = ctx;
    this.route = route;
    this.autoSend = autoSend;
    const pending = this.pipeline.step(ctx, route, autoSend, 0);
    if (pending === undefined) {
      this.release();
      return true;
    }
    this.wait(pending);
    return false;
  }

  /**
   * Forgets the finished run's Context: an idle keep-alive connection would otherwise hold its
   * last request (Context, headers, response Map) until the next one arrives.
   */
  private release(): void {
    this.ctx = null;
    this.route = null;
  }

  private wait(pending: PromiseLike<unknown>): void {
    // A negative resume point means error hooks are running: that promise never rejects.
    if (this.ctx!._resumeAt < 0) pending.then(this.finished, this.finished);
    else pending.then(this.fulfilled, this.rejected);
  }

  private finish(): void {
    this.release();
    this.onDone();
  }

  private resume(): void {
    const ctx = this.ctx!;
    const resumeAt = ctx._resumeAt;
    ctx._resumeAt = -1;
    let pending: PromiseLike<unknown> | undefined;
    try {
      pending = this.pipeline.step(ctx, this.route!, this.autoSend, resumeAt);
    } catch (error) {
      this.release();
      this.onFailure(error);
      return;
    }
    this.after(pending);
  }

  private fail(error: unknown): void {
    const ctx = this.ctx!;
    ctx._resumeAt = -1;
    let pending: PromiseLike<unknown> | undefined;
    try {
      pending = this.pipeline.handleError(ctx, error);
    } catch (failure) {
      this.release();
      this.onFailure(failure);
      return;
    }
    this.after(pending);
  }

  private after(pending: PromiseLike<unknown> | undefined): void {
    if (pending !== undefined) this.wait(pending);
    else this.finish();
  }
}
