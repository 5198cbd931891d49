/**
 * The chain runner: decode runs the filters in order and ends at the forwarder; encode runs them
 * in reverse and ends at delivery. Messages of one direction are processed one at a time, in
 * arrival order: a stopped message (approval hold) keeps every later message of that direction
 * queued behind it, while the other direction keeps flowing (answers to earlier requests).
 * A filter that throws refuses its message (fail closed) instead of letting it through.
 */
import type { ChainEnds, ChainFrame, ChainOutcome, Direction, Filter, FilterResult, Refusal, RequestDescription } from "./types.ts";

export class FilterChain<M> {
  private readonly tails: Record<Direction, Promise<unknown>> = { decode: Promise.resolve(), encode: Promise.resolve() };
  private stoppedCount = 0;

  constructor(
    private readonly filters: readonly Filter<M>[],
    private readonly ends: ChainEnds<M>,
  ) {}

  /** Client → target. Resolves once the message was forwarded or refused (after any hold). */
  decode(message: M, request: RequestDescription | null = null): Promise<ChainOutcome<M>> {
    return this.enqueue("decode", message, request);
  }

  /** Target → client. */
  encode(message: M, request: RequestDescription | null = null): Promise<ChainOutcome<M>> {
    return this.enqueue("encode", message, request);
  }

  /** Whether a message is held (a filter answered stop and has not resumed yet). */
  get stopped(): boolean {
    return this.stoppedCount > 0;
  }

  private enqueue(direction: Direction, message: M, request: RequestDescription | null): Promise<ChainOutcome<M>> {
    const frame: ChainFrame<M> = { message, request, direction, notes: new Map() };
    const run = this.tails[direction].then(() => this.run(frame));
    this.tails[direction] = run.catch(() => {});
    return run;
  }

  private async run(frame: ChainFrame<M>): Promise<ChainOutcome<M>> {
    const order = frame.direction === "decode" ? this.filters : [...this.filters].reverse();
    for (const filter of order) {
      const step = frame.direction === "decode" ? filter.decode : filter.encode;
      if (!step) continue;
      let result = await this.call(filter, () => step.call(filter, frame));
      while (result.kind === "stop") {
        const resume = result.resume;
        this.stoppedCount++;
        try {
          result = await this.call(filter, () => resume);
        } finally {
          this.stoppedCount--;
        }
      }
      if (result.kind === "replace") frame.message = result.message;
      else if (result.kind === "refuse") {
        await this.ends.refuse(result.refusal, frame);
        return { kind: "refused", refusal: result.refusal, by: filter.name, frame };
      }
    }
    if (frame.direction === "decode") await this.ends.forward(frame);
    else await this.ends.deliver(frame);
    return { kind: "passed", frame };
  }

  private async call(filter: Filter<M>, step: () => FilterResult<M> | Promise<FilterResult<M>>): Promise<FilterResult<M>> {
    try {
      return await step();
    } catch (e) {
      const refusal: Refusal = { kind: "unavailable", message: `gatehouse: request refused: the ${filter.name} filter failed: ${(e as Error).message}` };
      return { kind: "refuse", refusal };
    }
  }
}
