// The change feed (/api/v1/feed, server-sent events) read with fetch, not EventSource:
// EventSource cannot send the key header, and the key never goes into a URL or a cookie.
// A dropped stream is reopened with Last-Event-ID; a 'reset' (the server lost our place)
// asks the page to re-read its state, as does every reconnect after a gap.
import {headers} from './api.js';

const RETRY_MS = [500, 1000, 2000, 5000];

function parse(block) {
  const event = {type: 'message', id: null, data: ''};
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const at = line.indexOf(':');
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
    if (field === 'event') event.type = value;
    else if (field === 'id') event.id = value;
    else if (field === 'data') event.data += (event.data ? '\n' : '') + value;
  }
  return event;
}

/** Call onEvent(type, data) for each change of ``topics`` until ``signal`` aborts;
 *  onReset() when the page should re-read everything; onOpen() each time the stream is
 *  (re)opened — re-reading then closes the gap between a page's first read and the feed. */
export async function follow(topics, {onEvent, onReset, onOpen, signal}) {
  let last = null;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const response = await fetch(`/api/v1/feed?topics=${encodeURIComponent(topics)}`, {
        headers: {...headers(), Accept: 'text/event-stream', ...(last ? {'Last-Event-ID': last} : {})},
        signal, credentials: 'omit', cache: 'no-store'});
      if (!response.ok) throw new Error(`feed: ${response.status}`);
      failures = 0;
      onOpen?.();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value.replaceAll('\r\n', '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event.id) last = event.id;
          if (event.type === 'reset') onReset?.();
          else if (event.data) onEvent(event.type, JSON.parse(event.data));
        }
      }
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      failures += 1;
    }
    if (signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]));
  }
}
