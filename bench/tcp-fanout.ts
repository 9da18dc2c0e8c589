// The unicast baseline: the sender streams one file to N receivers over N TCP connections
// at once (what "rsync/ssh to each replica in parallel" costs on the wire, minus crypto).
//   node tcp-fanout.js serve PORT OUTFILE          (receiver: accept one connection, write it)
//   node tcp-fanout.js send FILE HOST:PORT ...     (sender)
import * as fs from 'fs';
import * as net from 'net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const [port, out] = args;
  const server = net.createServer((sock) => {
    const file = fs.createWriteStream(out);
    sock.pipe(file);
    file.on('finish', () => { server.close(); process.exit(0); });
  });
  server.listen(Number(port));
} else if (mode === 'send') {
  const [file, ...targets] = args;
  let left = targets.length;
  for (const target of targets) {
    const [host, port] = target.split(':');
    const connect = (): void => {
      const sock = net.connect(Number(port), host, () => {
        fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(sock);
      });
      sock.on('error', () => setTimeout(connect, 50)); // receiver not listening yet
      sock.on('close', (hadError) => { if (!hadError && --left === 0) process.exit(0); });
    };
    connect();
  }
} else {
  process.stderr.write('usage: tcp-fanout serve PORT OUT | send FILE HOST:PORT...\n');
  process.exit(2);
}
