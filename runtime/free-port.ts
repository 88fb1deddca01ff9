/** A free TCP port, for a server this process starts (a dev server, a simulated instance). */
import net from 'node:net';

/** A port nothing listens on at `host` now (loopback by default). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
