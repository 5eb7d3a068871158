import * as http from 'node:http';

/** A POST /v1/usage that went through the proxy, with the answer the service gave to it. */
export interface ProxiedUsageReport {
  readonly gatewayId: string;
  readonly sequence: number;
  readonly records: number;
  readonly status: number;
  readonly answer: any;
  /** The proxy took the service's answer and closed the gateway's connection instead of passing it on. */
  readonly answerLost: boolean;
}

export interface LossyProxy {
  readonly url: string;
  readonly usageReports: ProxiedUsageReport[];
  close(): Promise<void>;
}

/**
 * A reverse proxy in front of a key service that loses one answer: every request is passed on as it
 * is and every answer streamed back (the SSE revocation feed included, chunk by chunk), except the
 * first POST /v1/usage that holds records. That one reaches the service, which takes it; the proxy
 * reads the answer and then destroys the gateway's socket, as a connection dropped after the service
 * committed would. Request bodies are read whole first: they are small, and a usage report is logged.
 */
export async function startLossyProxy(target: string): Promise<LossyProxy> {
  const upstream = new URL(target);
  const usageReports: ProxiedUsageReport[] = [];
  let lostOne = false;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forwarded = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          if (req.method === 'POST' && req.url === '/v1/usage') return relayUsage(req, res, body, answer);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forwarded.on('error', () => res.destroy());
      // A gateway that goes away (a feed reconnect, a stop) ends the call it made through the proxy.
      res.on('close', () => {
        if (!res.writableFinished) forwarded.destroy();
      });
      forwarded.end(body);
    });
  });

  function relayUsage(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, answer: http.IncomingMessage): void {
    const chunks: Buffer[] = [];
    answer.on('data', (chunk: Buffer) => chunks.push(chunk));
    answer.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const batch = JSON.parse(body.toString('utf8')) as { gateway_id: string; sequence: number; records: unknown[] };
      const lose = !lostOne && batch.records.length > 0;
      if (lose) lostOne = true;
      usageReports.push({
        gatewayId: batch.gateway_id,
        sequence: batch.sequence,
        records: batch.records.length,
        status: answer.statusCode ?? 0,
        answer: text ? JSON.parse(text) : undefined,
        answerLost: lose,
      });
      if (lose) {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.end(text);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    usageReports,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections(); // the feed's stream never ends by itself
        server.close(() => resolve());
      }),
  };
}
