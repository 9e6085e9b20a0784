// Following the server's change feed (/api/v1/feed, server-sent events). Read through fetch,
// not EventSource, because EventSource cannot send the key header; after a drop it reconnects
// with Last-Event-ID and the server sends what was missed, or a `reset` (re-read everything).
import {headers} from './api.js';

const RETRY_MS = 1000;

function parse(block) {
  const event = {type: 'message', id: null, data: ''};
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;  // a comment (': keepalive') or nothing
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event.type = value;
    else if (field === 'id') event.id = value;
    else if (field === 'data') event.data += value;
  }
  return event;
}

/** Call onEvent(type, data) for each change until `signal` aborts; onState('live' |
 * 'reconnecting' | message) says how the connection is. */
export function follow(query, {signal, onEvent, onState = () => {}}) {
  let last = null;
  (async () => {
    while (!signal.aborted) {
      try {
        const sent = {...headers(), Accept: 'text/event-stream'};  // the key and the project
        if (last) sent['Last-Event-ID'] = last;
        const response = await fetch(`/api/v1/feed?${query}`, {headers: sent, signal,
          credentials: 'omit', cache: 'no-store'});
        if (!response.ok) {
          const body = await response.json().catch(() => null);
          onState(body?.error ?? `the change feed answered ${response.status}`);
          if (response.status < 500) return;  // a refused key or topic will not heal itself
        } else {
          onState('live');
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const {value, done} = await reader.read();
            if (done) break;
            buffer += value;
            let end;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const event = parse(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
              if (event.id) last = event.id;
              if (event.data) onEvent(event.type, JSON.parse(event.data));
            }
          }
        }
      } catch (e) {
        if (signal.aborted) return;
      }
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  })();
}
