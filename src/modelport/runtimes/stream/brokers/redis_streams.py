"""Redis Streams: a consumer group per stream group, one field (``d``) per entry.

Built for the stream benchmark's hot path, where redis-py's pure-Python reply
parser, not Redis, is the cost (~7 µs per entry read, ~7 µs per pipelined
XADD). So a batch is one round trip each way, pre-packed by hand, and the
replies are few and flat:

- publish: one EVALSHA whose script runs the batch's XADDs (one integer back);
- read: one EVALSHA around XREADGROUP returning four strings (ids, lengths,
  concatenated payloads, deleted ids) that Python splits in C-speed calls;
- ack: one XACK;
- read-ahead: after a full batch of new entries the next read is sent at once
  and its reply taken by the next ``read`` — Redis runs it while the caller
  processes the batch (+12 % events/s in the stream benchmark). Entries read
  ahead count as pending for this consumer; if it stops before handing them
  out, they come back like any unacknowledged entry (marked redelivered).

Only an idle read, which must block, goes through a plain ``XREADGROUP BLOCK``
(scripts cannot block). A server that refuses scripts (ACL) gets the plain
commands throughout: slower, same behaviour.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import accumulate
from typing import Any
from urllib.parse import SplitResult

from modelport.errors import BrokerError, first_line, require
from modelport.runtimes.stream.brokers import address, int_param, path_name, query
from modelport.runtimes.stream.brokers.base import Message, Sink, Source, SourceInfo

redis = require("redis", "stream")
require("redis.backoff", "stream")
require("redis.retry", "stream")

FIELD = b"d"  # the one field holding an entry's payload
_MAX_BLOCK = 10.0  # longest single XREADGROUP BLOCK; below the socket timeout
_SOCKET_TIMEOUT = _MAX_BLOCK + 10.0
_MAX_COUNT = 4096  # entries per scripted read: Lua's unpack() has a stack limit
_EXAMPLE = "redis://127.0.0.1:6379/events"
USE_SCRIPTS = True  # tests turn it off to check the plain-command path

# ARGV[1] = MAXLEN (0: none), then one payload per argument.
_PUBLISH = b"""
local maxlen = tonumber(ARGV[1])
for i = 2, #ARGV do
  if maxlen > 0 then redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'd', ARGV[i])
  else redis.call('XADD', KEYS[1], '*', 'd', ARGV[i]) end
end
return #ARGV - 1
"""
# ARGV = group, consumer, count, start id ('>' new, else own pending after it).
# Returns {} or {ids 'a,b', big-endian uint32 lengths, payloads, deleted ids, last id}.
_READ = b"""
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                     'STREAMS', KEYS[1], ARGV[4])
if not r or #r[1][2] == 0 then return {} end
local ids, lens, body, gone, last = {}, {}, {}, {}, ''
for _, e in ipairs(r[1][2]) do
  local f = e[2]
  last = e[1]
  if f then
    local d = ''
    for j = 1, #f, 2 do if f[j] == 'd' then d = f[j + 1] break end end
    ids[#ids + 1] = e[1]; lens[#lens + 1] = #d; body[#body + 1] = d
  else
    gone[#gone + 1] = e[1]
  end
end
return {table.concat(ids, ','), struct.pack('>' .. string.rep('I', #lens), unpack(lens)),
        table.concat(body), table.concat(gone, ','), last}
"""


class _Target:
    """A parsed ``redis://`` URL."""

    def __init__(self, parts: SplitResult) -> None:
        params = query(parts)
        url = parts.geturl()
        self.stream = path_name(parts, "stream", _EXAMPLE).encode()
        self.host, self.port = address(parts, 6379)
        self.where = f"redis://{self.host}:{self.port}"
        self.db = int_param(params, "db", 0, url) or 0
        self.maxlen = int_param(params, "maxlen", None, url)
        self.password = parts.password or params.get("password") or None
        self.username = parts.username or None

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Broker failures as one line naming the server."""
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise BrokerError(
                f"cannot reach Redis at {self.where} — is it running? ({first_line(exc)})"
            ) from exc
        except redis.RedisError as exc:
            raise BrokerError(
                f"Redis at {self.where} refused a command on stream "
                f"{self.stream.decode()!r}: {first_line(exc)}"
            ) from exc


def _raw(response: Any, **_: Any) -> Any:
    return response


class _Wire:
    """One connection: redis-py for the rare commands, hand-packed ones for the hot path."""

    def __init__(self, target: _Target, name: str) -> None:
        self.connects = 0  # (re)connections so far: a reply may be lost with a link
        self.client = redis.Redis(
            host=target.host, port=target.port, db=target.db, username=target.username,
            password=target.password, decode_responses=False, protocol=2,
            socket_connect_timeout=3.0, socket_timeout=_SOCKET_TIMEOUT,
            socket_keepalive=True, single_connection_client=True,
            client_name=re.sub(r"\s", "_", name),  # who is who in CLIENT LIST
            # A couple of quick retries ride out a reconnect; the default backoff
            # would keep a caller waiting seconds on a server that is simply down.
            retry=redis.retry.Retry(redis.backoff.ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        # Unparsed replies: [[stream, [[id, [field, value]], ...]]] rather than a dict
        # per entry; [[id, consumer, idle, deliveries], ...] for XPENDING.
        for command in ("XREADGROUP", "XPENDING", "XCLAIM"):
            self.client.set_response_callback(command, _raw)
        self.client.connection.register_connect_callback(self._on_connect)
        self._sha: dict[bytes, bytes] = {}
        self.scripts = USE_SCRIPTS
        if self.scripts:
            self._load_scripts()

    def _on_connect(self, connection: Any) -> None:
        self.connects += 1

    def _load_scripts(self) -> None:
        try:
            self._sha = {s: self.client.script_load(s).encode() for s in (_PUBLISH, _READ)}
        except redis.ResponseError:  # scripting disabled or not permitted: plain commands
            self.scripts = False

    def send(self, packed: bytes) -> Any:
        """One pre-packed command, one reply; reconnects once if the link dropped."""
        conn = self.client.connection
        for attempt in (1, 2):
            try:
                conn.send_packed_command([packed])
                return conn.read_response()
            except (redis.ConnectionError, redis.TimeoutError):
                conn.disconnect()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def sha(self, source: bytes) -> bytes:
        return self._sha[source]

    def post(self, packed: bytes) -> None:
        """Send a command now and read its reply later with ``collect`` (pipelining:
        the server works on it while the caller does something else)."""
        self.client.connection.send_packed_command([packed])

    def collect(self) -> Any:
        return self.client.connection.read_response()

    def script(self, source: bytes, key: bytes, args: Sequence[bytes]) -> Any:
        """EVALSHA, reloading the script if the server lost it (restart, SCRIPT FLUSH)."""
        try:
            return self.send(_pack_evalsha(self._sha[source], key, args))
        except redis.exceptions.NoScriptError:
            self._sha[source] = self.client.script_load(source).encode()
            return self.send(_pack_evalsha(self._sha[source], key, args))

    def close(self) -> None:
        self.client.close()


def _pack(args: Sequence[bytes], tail: bytes = b"", tail_count: int = 0) -> bytes:
    """A command in the Redis protocol (RESP): an array of bulk strings, optionally
    followed by ``tail_count`` more already packed into ``tail``."""
    parts = [b"*%d\r\n" % (len(args) + tail_count)]
    for a in args:
        parts += (b"$%d\r\n" % len(a), a, b"\r\n")
    parts.append(tail)
    return b"".join(parts)


def _pack_evalsha(sha: bytes, key: bytes, args: Sequence[bytes]) -> bytes:
    return _pack([b"EVALSHA", sha, b"1", key, *args])


class RedisSource(Source):
    """One consumer of a Redis consumer group.

    ``read`` serves, in order: this consumer's own pending entries (left by a
    previous run with the same name), entries idle longer than ``claim_after``
    in other consumers' pending lists (looked for every ``claim_after / 4``),
    then new entries. Entries trimmed or deleted while
    pending are acknowledged away. Not thread-safe: one source per thread.
    """

    def __init__(self, target: _Target, group: str, consumer: str, claim_after: float) -> None:
        self._t = target
        self._group = group.encode()
        self._consumer = consumer.encode()
        self._idle_ms = max(1, int(claim_after * 1000))
        self._claim_every = claim_after / 4
        self._next_claim = 0.0
        self._claim_cursor = b"-"
        self._own_cursor: bytes | None = b"0-0"  # None once our own backlog is drained
        self._ahead = False  # a scripted read of new entries sent, reply not yet taken
        self._held: list[Message] = []  # its reply, taken early for another command
        with target.errors():
            self._w = _Wire(target, f"modelport:{group}:{consumer}")
            self._connects = self._w.connects
            try:
                self._w.client.execute_command(
                    "XGROUP", "CREATE", target.stream, self._group, "0", "MKSTREAM")
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read(self, max_messages: int, timeout: float) -> list[Message]:
        count = min(max(max_messages, 1), _MAX_COUNT)
        ahead = self._held or self._take_ahead()
        self._held = []
        if ahead:
            self._read_ahead(count, len(ahead))
            return ahead
        if self._w.connects != self._connects:
            # The link dropped since the last read: entries it delivered may never have
            # reached us. They are in our pending list, so read that again.
            self._connects = self._w.connects
            self._own_cursor = b"0-0"
        with self._t.errors():
            while self._own_cursor is not None:
                got = self._read(count, self._own_cursor, redelivered=True)
                if got:
                    return got
            if time.monotonic() >= self._next_claim:
                got = self._claim(count)
                if got:
                    return got
            got = self._read(count, b">", redelivered=False)
            self._read_ahead(count, len(got))
            if got or timeout <= 0:
                return got
            return self._wait(count, timeout)

    def _read_ahead(self, count: int, last: int) -> None:
        """After a full batch of new entries, more are likely waiting: ask for them now,
        so Redis runs the read while the caller processes this batch. The reply is taken
        by the next ``read`` (or early, by any other command on this connection)."""
        if last < count or not self._w.scripts or time.monotonic() >= self._next_claim:
            return  # (a claim that is due goes first: the next read runs it)
        try:
            self._w.post(_pack_evalsha(self._w.sha(_READ), self._t.stream,
                                       [self._group, self._consumer, b"%d" % count, b">"]))
            self._ahead = True
        except (redis.ConnectionError, redis.TimeoutError):
            self._w.client.connection.disconnect()  # the next command reconnects

    def _take_ahead(self) -> list[Message]:
        """The reply of the read sent ahead, if one is in flight."""
        if not self._ahead:
            return []
        self._ahead = False
        try:
            with self._t.errors():
                return self._parse(self._w.collect(), redelivered=False)
        except BrokerError:
            # lost with the link, or the script was flushed: whatever Redis delivered is
            # in our pending list, which the next read goes over again
            self._w.client.connection.disconnect()
            self._own_cursor = b"0-0"
            return []

    def _settle(self) -> None:
        """Take an in-flight read-ahead reply before another command uses the connection."""
        if self._ahead:
            self._held += self._take_ahead()

    def _read(self, count: int, start: bytes, redelivered: bool) -> list[Message]:
        """Without blocking; advances (or ends) the own-pending cursor when reading it."""
        if not self._w.scripts:
            return self._read_plain(count, start, redelivered)
        reply = self._w.script(_READ, self._t.stream,
                               [self._group, self._consumer, b"%d" % count, start])
        if start != b">":
            self._own_cursor = reply[4] if reply else None
        return self._parse(reply, redelivered)

    def _parse(self, reply: Any, redelivered: bool) -> list[Message]:
        if not reply:
            return []
        ids_csv, lens, body, gone = reply[0], reply[1], reply[2], reply[3]
        if gone:
            self._drop(gone.split(b","))
        if not ids_csv:
            return []
        ids = ids_csv.decode().split(",")
        ends = accumulate(struct.unpack(f">{len(ids)}I", lens))
        out, start_at = [], 0
        for entry_id, end in zip(ids, ends, strict=True):
            out.append(Message(entry_id, body[start_at:end], redelivered))
            start_at = end
        return out

    def _read_plain(self, count: int, start: bytes, redelivered: bool) -> list[Message]:
        reply = self._w.client.execute_command(
            "XREADGROUP", "GROUP", self._group, self._consumer, "COUNT", count,
            "STREAMS", self._t.stream, start)
        entries = reply[0][1] if reply else []
        if start != b">":
            self._own_cursor = entries[-1][0] if entries else None
        messages, gone = _messages(entries, redelivered)
        self._drop(gone)
        return messages

    def _wait(self, count: int, timeout: float) -> list[Message]:
        """Block until something arrives; only an idle stream pays redis-py's parser."""
        block_ms = max(1, int(min(timeout, _MAX_BLOCK) * 1000))
        reply = self._w.client.execute_command(
            "XREADGROUP", "GROUP", self._group, self._consumer, "COUNT", count,
            "BLOCK", block_ms, "STREAMS", self._t.stream, ">")
        return _messages(reply[0][1], redelivered=False)[0] if reply else []

    def _claim(self, count: int) -> list[Message]:
        """Take over entries other consumers left idle for ``claim_after``.

        XPENDING first, not XAUTOCLAIM: our own entries may be idle too (read, not yet
        acknowledged because the runner waits for a checkpoint) and must not come back
        to us as duplicates while we still hold them."""
        client = self._w.client
        rows = client.execute_command(
            "XPENDING", self._t.stream, self._group, "IDLE", self._idle_ms,
            self._claim_cursor, "+", count)
        if len(rows) < count:  # scanned the whole pending list: look again later
            self._claim_cursor = b"-"
            self._next_claim = time.monotonic() + self._claim_every
        else:
            self._claim_cursor = b"(" + rows[-1][0]
        theirs = [row[0] for row in rows if row[1] != self._consumer]
        if not theirs:
            return []
        # Redis 7 drops deleted entries from the pending list and the reply; 6.2 returns
        # them without data (acknowledged away below).
        entries = client.execute_command(
            "XCLAIM", self._t.stream, self._group, self._consumer, self._idle_ms, *theirs)
        messages, gone = _messages(entries, redelivered=True)
        self._drop(gone)
        return messages

    def _drop(self, ids: Sequence[bytes]) -> None:
        if ids:
            self._w.client.execute_command("XACK", self._t.stream, self._group, *ids)

    def ack(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        self._settle()
        # Ids are short ASCII: one str join, one encode, instead of a bulk per id.
        ids = "".join([f"${len(m.id)}\r\n{m.id}\r\n" for m in messages]).encode()
        with self._t.errors():
            self._w.send(_pack([b"XACK", self._t.stream, self._group], ids, len(messages)))

    def info(self) -> SourceInfo:
        self._settle()
        with self._t.errors():
            groups = self._w.client.xinfo_groups(self._t.stream)
        for g in groups:
            if g.get("name") in (self._group, self._group.decode()):
                lag = g.get("lag")
                return SourceInfo(lag=None if lag is None else int(lag),
                                  pending=int(g.get("pending", 0)))
        return SourceInfo(lag=None, pending=None)

    def close(self) -> None:
        # Our pending entries stay ours: a restart with the same consumer name resumes
        # them, and other members claim them after ``claim_after`` (a batch read ahead
        # and never handed out included).
        self._settle()
        self._w.close()


def _messages(entries: list[Any], redelivered: bool) -> tuple[list[Message], list[bytes]]:
    """Raw XREADGROUP / XCLAIM entries to messages, plus the ids whose data is gone."""
    out: list[Message] = []
    gone: list[bytes] = []
    for entry in entries:
        if not entry:
            continue
        entry_id, fields = entry
        if not fields:
            gone.append(entry_id)
            continue
        data = fields[1] if fields[0] == FIELD else dict(
            zip(fields[::2], fields[1::2], strict=False)).get(FIELD, b"")
        out.append(Message(entry_id.decode(), data, redelivered))
    return out, gone


class RedisSink(Sink):
    """Appends each payload as one entry, a whole batch in one round trip."""

    def __init__(self, target: _Target) -> None:
        self._t = target
        self._maxlen = b"%d" % (target.maxlen or 0)
        with target.errors():
            self._w = _Wire(target, "modelport:sink")
            self._w.client.ping()

    def publish(self, payloads: Sequence[bytes]) -> None:
        if not payloads:
            return
        with self._t.errors():
            if self._w.scripts:
                self._w.script(_PUBLISH, self._t.stream, [self._maxlen, *payloads])
                return
            pipe = self._w.client.pipeline(transaction=False)
            trim = ("MAXLEN", "~", self._t.maxlen) if self._t.maxlen else ()
            for p in payloads:
                pipe.execute_command("XADD", self._t.stream, *trim, "*", FIELD, p)
            pipe.execute()

    def close(self) -> None:
        self._w.close()


def open_source(url: SplitResult, group: str, consumer: str, claim_after: float) -> Source:
    return RedisSource(_Target(url), group, consumer, claim_after)


def open_sink(url: SplitResult) -> Sink:
    return RedisSink(_Target(url))


def dead_letter_url(url: SplitResult) -> str:
    name = _Target(url).stream.decode()
    return url._replace(path=f"/{name}.dead").geturl()


def delete(url: SplitResult) -> None:
    target = _Target(url)
    with target.errors():
        wire = _Wire(target, "modelport:admin")
        try:
            wire.client.delete(target.stream)
        finally:
            wire.close()
