"""HPACK (RFC 7541), as much as a gRPC server needs: decode any header block, encode plainly.

Decoding is the hostile side, so every length is checked before anything is
kept: an integer has at most four continuation bytes, a string never runs past
its block, the header list (names + values + 32 bytes each, as RFC 7540 counts
it) stays under ``max_list`` however often a block repeats a large table entry
(the "HPACK bomb"), and a table size update may not exceed what the server
advertised. Huffman strings are read with the canonical code of Appendix B,
rebuilt here from its code lengths into a machine reading 4 bits a step; the
EOS symbol or padding that is not a short run of 1 bits is an error.

A client repeats the same block for every call once its headers sit in the
dynamic table (grpc's clients and h2load send a handful of index bytes), so a
block that does not change the table is decoded once and remembered until the
table next changes. Answers are encoded as literals without indexing and
without Huffman: a few bytes more on the wire, no encoder state at all.
"""

from __future__ import annotations

from collections.abc import Iterable

Headers = tuple[tuple[str, str], ...]


class HpackError(Exception):
    """A header block that cannot be decoded, or one over a limit: the connection's end
    (its decoding state can no longer be trusted)."""


STATIC: tuple[tuple[str, str], ...] = (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
)

# RFC 7541 Appendix B: the code length of each byte value, then of EOS (256). The code
# is canonical: codes are handed out in order of length, then of symbol.
_LENGTHS = bytes.fromhex(
    "0d171c1c1c1c1c1c1c181e1c1c1e1c1c1c1c1c1c1c1c1e1c1c1c1c1c1c1c1c1c060a0a0c0d06080b0a0a"
    "080b080606060505050606060606060607080f060c0a0d0607070707070707070707070707070707070707"
    "0707070807080d130d0e060f05060506050606060507070606060506070605050607070707070f0b0e0d1c"
    "141614141616161716171717171718171818161718171717171516171617171816151416161717151716"
    "161815161717151516151716171714161616171616171a1a1413161716191a1a1a1b1b1a181913151a1b"
    "1b1a1b1815151a1a1c1b1b1b14181415161515171616191918181a171a1b1a1a1b1b1b1b1b1c1b1b1b1b"
    "1b1a1e")
EOS = 256
REMEMBERED, REMEMBERED_BYTES = 64, 512  # blocks kept per connection, and their largest size


def _codes() -> dict[str, int]:
    """Each symbol's code as a string of bits."""
    codes: dict[str, int] = {}
    code, previous = 0, 0
    for symbol in sorted(range(257), key=lambda s: (_LENGTHS[s], s)):
        length = _LENGTHS[symbol]
        code <<= length - previous
        previous = length
        codes[format(code, f"0{length}b")] = symbol
        code += 1
    return codes


def _machine() -> tuple[list[tuple[int, bytes]], list[bool]]:
    """The code as a machine reading 4 bits a step: its states are the tree's inner nodes
    (by their bit prefix); a step gives the next state and the bytes completed on the way.
    EOS leads to a dead state that no input leaves. A string may end in a state that is a
    run of at most seven 1 bits (RFC 7541 5.2: padding from EOS's first bits)."""
    by_bits = _codes()
    prefixes = sorted({code[:i] for code in by_bits for i in range(len(code))},
                      key=lambda p: (len(p), p))
    states = {prefix: n for n, prefix in enumerate(prefixes)}
    dead = len(states)
    table = [(dead, b"")] * ((dead + 1) << 4)
    for prefix, state in states.items():
        for nibble in range(16):
            here, out = prefix, bytearray()
            for bit in format(nibble, "04b"):
                here += bit
                symbol = by_bits.get(here)
                if symbol == EOS:
                    break
                if symbol is not None:
                    out.append(symbol)
                    here = ""
            else:
                table[state << 4 | nibble] = (states[here], bytes(out))
    ends = [len(prefix) <= 7 and "0" not in prefix for prefix in prefixes] + [False]
    return table, ends


_STEPS, _ENDS = _machine()


def huffman_decode(data: bytes) -> bytes:
    """A Huffman-coded string, at 0.2-0.3 µs a byte: matching bit strings took 1-2 µs,
    35-75 ms for one 32 KB header block, a cheap way for a client to keep a worker busy."""
    steps, state, out = _STEPS, 0, bytearray()
    for byte in data:
        state, high = steps[state << 4 | byte >> 4]
        state, low = steps[state << 4 | byte & 15]
        out += high
        out += low
    if not _ENDS[state]:
        raise HpackError("EOS or bad padding in a Huffman string")
    return bytes(out)


class Decoder:
    """One connection's decoding state (the dynamic table), with its limits."""

    def __init__(self, max_table: int = 4096, max_list: int = 16384) -> None:
        self.max_table = max_table  # what SETTINGS_HEADER_TABLE_SIZE advertised
        self.max_list = max_list
        self._size_limit = max_table  # the encoder's current choice, <= max_table
        self._table: list[tuple[str, str]] = []  # newest first
        self._size = 0
        self._seen: dict[bytes, Headers] = {}
        self._changes = 0  # how often the table changed: a remembered block is valid within one

    def decode(self, block: bytes) -> Headers:
        known = self._seen.get(block)
        if known is not None:
            return known
        before = self._changes
        headers = self._decode(block)
        if self._changes != before:
            self._seen.clear()  # the table changed: remembered blocks may mean something else
        elif len(block) <= REMEMBERED_BYTES and len(self._seen) < REMEMBERED:
            self._seen[block] = headers
        return headers

    def _decode(self, block: bytes) -> Headers:
        headers: list[tuple[str, str]] = []
        total, i, end = 0, 0, len(block)
        while i < end:
            first = block[i]
            if first & 0x80:  # indexed field
                index, i = _integer(block, i, 7)
                name, value = self._entry(index)
            elif first & 0x40:  # literal, added to the table
                name, value, i = self._literal(block, i, 6)
                self._add(name, value)
            elif first & 0x20:  # dynamic table size update: only before any field
                if headers:
                    raise HpackError("table size update after a header field")
                size, i = _integer(block, i, 5)
                if size > self.max_table:
                    raise HpackError("table size update above the advertised maximum")
                self._size_limit = size
                self._changes += 1
                self._evict(0)
                continue
            else:  # literal without indexing (0000) or never indexed (0001)
                name, value, i = self._literal(block, i, 4)
            total += len(name) + len(value) + 32
            if total > self.max_list:
                raise HpackError("header list too large")
            headers.append((name, value))
        return tuple(headers)

    def _entry(self, index: int) -> tuple[str, str]:
        if 0 < index <= len(STATIC):
            return STATIC[index - 1]
        dynamic = index - len(STATIC) - 1
        if 0 <= dynamic < len(self._table):
            return self._table[dynamic]
        raise HpackError(f"header index {index} is not in the table")

    def _literal(self, block: bytes, i: int, prefix: int) -> tuple[str, str, int]:
        index, i = _integer(block, i, prefix)
        if index:
            name = self._entry(index)[0]
        else:
            name, i = self._string(block, i)
        value, i = self._string(block, i)
        return name, value, i

    def _string(self, block: bytes, i: int) -> tuple[str, int]:
        if i >= len(block):
            raise HpackError("header block ends inside a field")
        huffman = block[i] & 0x80
        length, i = _integer(block, i, 7)
        if length > len(block) - i:
            raise HpackError("string runs past the header block")
        raw = block[i:i + length]
        if huffman:
            raw = huffman_decode(raw)
        if len(raw) > self.max_list:
            raise HpackError("header list too large")
        return raw.decode("latin-1"), i + length

    def _add(self, name: str, value: str) -> None:
        size = len(name) + len(value) + 32
        self._changes += 1
        self._evict(size)
        if size <= self._size_limit:  # larger than the whole table: it empties it
            self._table.insert(0, (name, value))
            self._size += size

    def _evict(self, room: int) -> None:
        while self._table and self._size + room > self._size_limit:
            name, value = self._table.pop()
            self._size -= len(name) + len(value) + 32


def _integer(block: bytes, i: int, prefix: int) -> tuple[int, int]:
    """An HPACK integer starting at ``block[i]`` with an N-bit prefix: (value, next i).
    At most four continuation bytes (values below 2^28): nothing legitimate needs more."""
    mask = (1 << prefix) - 1
    value = block[i] & mask
    i += 1
    if value < mask:
        return value, i
    shift = 0
    while True:
        if i >= len(block):
            raise HpackError("header block ends inside an integer")
        byte = block[i]
        i += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i
        if shift >= 28:
            raise HpackError("integer too large")


def encode_integer(value: int, prefix: int, flags: int = 0) -> bytes:
    mask = (1 << prefix) - 1
    if value < mask:
        return bytes((flags | value,))
    out = bytearray((flags | mask,))
    value -= mask
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode(headers: Iterable[tuple[str, str]]) -> bytes:
    """A header block of literals without indexing (``:status: 200`` by its static index)."""
    out = bytearray()
    for name, value in headers:
        if name == ":status" and value == "200":
            out.append(0x88)
            continue
        raw_name, raw_value = name.encode("latin-1"), value.encode("latin-1")
        out += b"\x00" + encode_integer(len(raw_name), 7) + raw_name
        out += encode_integer(len(raw_value), 7) + raw_value
    return bytes(out)
