/**
 * Flow control of one session hop inside workerd, on a real WebSocketPair: DATA framing, the send
 * window (queue while the peer has given no credit, flush in order when it does), credit returned
 * in quarter-window steps, and a peer that ignores our window refused.
 */
import { describe, expect, it, vi } from "vitest";
import { Hop } from "./hop.ts";
import { decodeFrame, FrameType, INITIAL_WINDOW, MAX_DATA_PAYLOAD, type Frame } from "../../parsers/tunnel/frames.ts";

function pair(): { hop: Hop; frames: Frame[]; settle: () => Promise<void> } {
  const p = new WebSocketPair();
  const [peer, ours] = [p[0], p[1]];
  (peer as unknown as { binaryType: string }).binaryType = "arraybuffer";
  const frames: Frame[] = [];
  peer.addEventListener("message", (e) => void frames.push(decodeFrame(e.data as ArrayBuffer)));
  peer.accept();
  ours.accept();
  // Messages cross the pair asynchronously.
  const settle = () => new Promise<void>((r) => setTimeout(r, 20));
  return { hop: new Hop(ours, "client"), frames, settle };
}

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const dataLengths = (frames: Frame[]) => frames.filter((f) => f.type === FrameType.Data).map((f) => (f.type === FrameType.Data ? f.payload.length : 0));

describe("Hop", () => {
  it("sends parts as one DATA frame, split at the maximal payload, and spends the send window", async () => {
    const { hop, frames, settle } = pair();
    hop.sendParts([new Uint8Array([1, 2]), new Uint8Array([3])]);
    hop.sendParts([bytes(MAX_DATA_PAYLOAD + 10)]);
    hop.sendParts([]);
    await vi.waitFor(() => expect(dataLengths(frames)).toEqual([3, MAX_DATA_PAYLOAD, 10]));
    expect(frames[0]!.type === FrameType.Data && [...frames[0]!.payload]).toEqual([1, 2, 3]);
    expect(hop.bytesSent).toBe(3 + MAX_DATA_PAYLOAD + 10);
    expect(hop.sendWindow.credit).toBe(INITIAL_WINDOW - hop.bytesSent);
  });

  it("queues DATA once the peer's window is spent, and flushes it in order when credit comes", async () => {
    const { hop, frames, settle } = pair();
    let drained = 0;
    hop.onDrained = () => void drained++;
    hop.sendData(bytes(INITIAL_WINDOW, 1)); // spends the whole window
    hop.sendData(bytes(100, 2));
    hop.sendData(bytes(50, 3));
    await settle();
    expect(dataLengths(frames)).toEqual([INITIAL_WINDOW]);
    expect(hop.backlogged).toBe(true);
    hop.credited(10); // some credit lets the next whole frame go (a frame may overdraw the window)
    await vi.waitFor(() => expect(dataLengths(frames)).toEqual([INITIAL_WINDOW, 100]));
    expect(hop.backlogged).toBe(true);
    expect(drained).toBe(0);
    hop.credited(1000);
    await vi.waitFor(() => expect(dataLengths(frames)).toEqual([INITIAL_WINDOW, 100, 50]));
    expect(frames.at(-1)!.type === FrameType.Data && frames.at(-1)!.payload[0]).toBe(3);
    expect(hop.backlogged).toBe(false);
    expect(drained).toBe(1);
  });

  it("returns credit in quarter-window steps for bytes consumed", async () => {
    const { hop, frames, settle } = pair();
    const quarter = INITIAL_WINDOW / 4;
    hop.received(quarter);
    hop.grantCredit(quarter - 1);
    await settle();
    expect(frames).toEqual([]);
    hop.grantCredit(1);
    await vi.waitFor(() => expect(frames).toEqual([{ type: FrameType.Credit, bytes: quarter }]));
  });

  it("refuses a peer that sends beyond its window (and the one frame of slack)", () => {
    const { hop } = pair();
    hop.received(INITIAL_WINDOW);
    expect(() => hop.received(1024 * 1024 + 1)).toThrow(/exceeded its flow-control window/);
  });

  it("sends nothing once closed, and closes once", async () => {
    const { hop, frames, settle } = pair();
    hop.close(1000, "done");
    hop.close(1000, "again");
    hop.sendData(bytes(5));
    hop.sendControl({ t: "close", reason: "x" });
    await settle();
    expect(hop.isOpen).toBe(false);
    expect(frames).toEqual([]);
  });
});
