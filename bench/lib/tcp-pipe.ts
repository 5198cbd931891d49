/** A plain Node TCP pipe to host:port (one hop), for the benchmark. Prints "port <n>". Usage: tcp-pipe.ts <host> <port> */
import net from "node:net";

const [host, port] = [process.argv[2]!, Number(process.argv[3])];
const server = net.createServer((client) => {
  const upstream = net.connect(port, host);
  for (const s of [client, upstream]) {
    s.setNoDelay(true);
    s.on("error", () => {
      client.destroy();
      upstream.destroy();
    });
  }
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(0, "127.0.0.1", () => console.log(`port ${(server.address() as net.AddressInfo).port}`));
process.on("SIGTERM", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
