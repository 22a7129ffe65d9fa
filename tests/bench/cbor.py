"""Just enough CBOR (RFC 8949) to speak FileSync's handshake from a load client.

A frame on the wire is a 4-byte big-endian length followed by one CBOR message, the
array [type, id, body] (docs/protocol.md). Hand-written so the benchmark needs nothing
beyond the Python standard library.
"""
import struct


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 1 << 8:
        return bytes([major << 5 | 24, n])
    if n < 1 << 16:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    if n < 1 << 32:
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    return bytes([major << 5 | 27]) + struct.pack(">Q", n)


def encode(value):
    if isinstance(value, bool):
        return bytes([0xF5 if value else 0xF4])
    if value is None:
        return b"\xf6"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return _head(3, len(data)) + data
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    raise TypeError(type(value))


def decode(data):
    """Decodes one CBOR item (definite lengths, as FileSync's writer emits; indefinite
    strings, arrays and maps too). Returns the value; raises ValueError on anything else."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after the CBOR item")
    return value


def _argument(data, pos, info):
    if info < 24:
        return info, pos
    if info == 31:
        return None, pos  # indefinite length
    sizes = {24: 1, 25: 2, 26: 4, 27: 8}
    if info not in sizes:
        raise ValueError(f"reserved additional information {info}")
    n = sizes[info]
    if pos + n > len(data):
        raise ValueError("truncated CBOR")
    return int.from_bytes(data[pos:pos + n], "big"), pos + n


def _decode(data, pos):
    if pos >= len(data):
        raise ValueError("truncated CBOR")
    initial = data[pos]
    major, info = initial >> 5, initial & 31
    pos += 1
    if major == 7:
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info], pos
        if info == 25:
            return struct.unpack(">e", data[pos:pos + 2])[0], pos + 2
        if info == 26:
            return struct.unpack(">f", data[pos:pos + 4])[0], pos + 4
        if info == 27:
            return struct.unpack(">d", data[pos:pos + 8])[0], pos + 8
        raise ValueError(f"unsupported simple value {info}")
    n, pos = _argument(data, pos, info)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major in (2, 3):
        if n is None:
            parts = []
            while data[pos] != 0xFF:
                part, pos = _decode(data, pos)
                parts.append(part)
            return (b"" if major == 2 else "").join(parts), pos + 1
        raw = bytes(data[pos:pos + n])
        if len(raw) != n:
            raise ValueError("truncated CBOR string")
        return (raw if major == 2 else raw.decode()), pos + n
    if major == 4:
        items = []
        while (len(items) < n) if n is not None else data[pos] != 0xFF:
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos + (1 if n is None else 0)
    if major == 5:
        result = {}
        while (len(result) < n) if n is not None else data[pos] != 0xFF:
            key, pos = _decode(data, pos)
            result[key], pos = _decode(data, pos)
        return result, pos + (1 if n is None else 0)
    if major == 6:  # a tag: keep the tagged value
        return _decode(data, pos)
    raise ValueError(f"unsupported major type {major}")


def frame(message_type, request_id, body):
    payload = encode([message_type, request_id, body])
    return struct.pack(">I", len(payload)) + payload


class FrameReader:
    """Splits a byte stream into decoded [type, id, body] messages."""

    def __init__(self, max_frame=1 << 20):
        self.buffer = bytearray()
        self.max_frame = max_frame

    def feed(self, data):
        self.buffer += data
        messages = []
        while len(self.buffer) >= 4:
            length = int.from_bytes(self.buffer[:4], "big")
            if length > self.max_frame:
                raise ValueError(f"frame of {length} bytes is over the cap")
            if len(self.buffer) < 4 + length:
                break
            messages.append(decode(bytes(self.buffer[4:4 + length])))
            del self.buffer[:4 + length]
        return messages


if __name__ == "__main__":  # a self-check: python3 tests/bench/cbor.py
    sample = [5, 7, {"account": "abc", "session": 12, "head": 1 << 40, "ok": True, "h": b"\x00" * 32,
                     "list": [1, -2, "x"], "none": None}]
    assert decode(encode(sample)) == sample
    reader = FrameReader()
    wire = frame(2, 1, {"major": 1}) + frame(5, 2, {"session": 3, "head": 0})
    got = reader.feed(wire[:7]) + reader.feed(wire[7:])
    assert got == [[2, 1, {"major": 1}], [5, 2, {"session": 3, "head": 0}]], got
    print("cbor: ok")
