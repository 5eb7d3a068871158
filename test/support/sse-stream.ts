import * as http from 'node:http';

export interface SseEvent {
  event: string;
  data: any;
}

/** Opens the SSE stream and collects its events until the service closes it. */
export function openStream(port: number, token: string) {
  const events: SseEvent[] = [];
  let status = 0;
  const request = http.get({ host: '127.0.0.1', port, path: '/v1/revocations/stream?after=0', headers: { authorization: `Bearer ${token}` } });
  const closed = new Promise<number>((resolve, reject) => {
    request.on('response', (response) => {
      status = response.statusCode ?? 0;
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event) events.push({ event, data: data ? JSON.parse(data) : undefined });
        }
      });
      response.on('end', () => resolve(Date.now()));
    });
    request.on('error', (error) => (request.destroyed ? resolve(Date.now()) : reject(error)));
  });
  return { events, closed, status: () => status, close: () => request.destroy() };
}
