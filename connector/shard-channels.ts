/**
 * The extra control channels of a connector whose tenant's connector hub is sharded
 * (docs/PROTOCOL.md "Hub shards"): shard 0 answers the hello with where each announced resource
 * lives, and this keeps exactly one channel per other shard holding one of them, announcing only
 * that shard's resources (a shard refuses a hello naming a resource it does not hold). Against an
 * unsharded hub no `shards` message ever comes and nothing here runs.
 */
import { startControlChannel, type ControlChannel, type ControlChannelOptions, type ShardPlacement } from "./control-channel.ts";

type Advertised = ControlChannelOptions["resources"];

export interface ShardChannels {
  /** Apply shard 0's latest `shards` message to the resources announced with it. */
  place(placement: ShardPlacement, resources: Advertised): void;
  /** Every shard channel up (true when there are none). */
  readonly connected: boolean;
  /** How many shard channels are kept (shards other than 0). */
  readonly count: number;
  stop(): Promise<void>;
}

export function startShardChannels(base: Omit<ControlChannelOptions, "resources" | "shard" | "onShards">): ShardChannels {
  const channels = new Map<number, { channel: ControlChannel; announced: string }>();
  let stopped = false;
  return {
    place(placement, resources) {
      if (stopped) return;
      const byShard = new Map<number, Advertised>();
      for (const r of resources) {
        const k = placement.map[r.name];
        if (k === undefined || k === 0) continue; // shard 0's own, or named in a later hello
        byShard.set(k, [...(byShard.get(k) ?? []), r]);
      }
      for (const [k, kept] of channels) {
        if (byShard.has(k)) continue;
        channels.delete(k);
        void kept.channel.stop();
      }
      for (const [k, list] of byShard) {
        const announced = JSON.stringify(list);
        const kept = channels.get(k);
        if (kept?.announced === announced) continue;
        if (kept) {
          kept.channel.announce(list);
          kept.announced = announced;
          continue;
        }
        const channel = startControlChannel({ ...base, shard: k, resources: list, emit: (event) => base.emit({ ...event, shard: k }) });
        channels.set(k, { channel, announced });
      }
    },
    get connected() {
      return [...channels.values()].every((c) => c.channel.connected);
    },
    get count() {
      return channels.size;
    },
    async stop() {
      stopped = true;
      const all = [...channels.values()];
      channels.clear();
      await Promise.all(all.map((c) => c.channel.stop()));
    },
  };
}
