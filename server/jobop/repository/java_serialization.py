"""Spring's default context format: Base64 of a Java-serialized `HashMap<String, Object>`.

Reading uses javaobj-py3, which parses the whole Java serialization grammar (references,
block data, long strings) as Spring's `DefaultExecutionContextSerializer` writes it.
Writing is our own: javaobj's writer needs every class descriptor built by hand, while
the few classes a context holds (`context_values`) take a small writer that emits exactly
what `ObjectOutputStream` writes for them, byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
from datetime import UTC, date, datetime, timedelta
from typing import Any

import javaobj.v2.beans
import javaobj.v2.stream
from javaobj.v2.beans import JavaInstance, JavaString
from javaobj.v2.main import loads as java_loads
from javaobj.v2.transformers import JavaList, JavaMap, JavaTime

from jobop.domain import JavaFloat, JavaInteger, UnreadableContext


def _decode_modified_utf8(data: bytes, errors: str = "strict") -> tuple[str, int]:
    """Java's modified UTF-8 to text: UTF-8 with NUL as C0 80 and each UTF-16 surrogate
    encoded on its own (three bytes)."""
    text = bytes(data).replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
    # Re-pair the surrogates into the characters beyond the BMP.
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass"), len(data)


# javaobj-py3 0.6.1 reads every 0xED lead byte as half a surrogate pair, so strings with
# characters U+D000-U+D7FF (most of Hangul) fail to read: its two call sites use ours.
javaobj.v2.beans.decode_modified_utf8 = _decode_modified_utf8  # type: ignore[attr-defined]
javaobj.v2.stream.decode_modified_utf8 = _decode_modified_utf8  # type: ignore[attr-defined]

_MAGIC = b"\xac\xed\x00\x05"
_TC_NULL, _TC_REFERENCE, _TC_CLASSDESC, _TC_OBJECT = 0x70, 0x71, 0x72, 0x73
_TC_STRING, _TC_BLOCKDATA, _TC_ENDBLOCKDATA, _TC_LONGSTRING = 0x74, 0x77, 0x78, 0x7C
_BASE_HANDLE = 0x7E0000
_SC_WRITE_METHOD, _SC_SERIALIZABLE, _SC_EXTERNALIZABLE, _SC_BLOCK_DATA = 0x01, 0x02, 0x04, 0x08

# name -> (serialVersionUID, flags, fields as (type code, name), superclass or None)
_CLASSES: dict[str, tuple[int, int, tuple[tuple[str, str], ...], str | None]] = {
    "java.lang.Number": (-8742448824652078965, _SC_SERIALIZABLE, (), None),
    "java.lang.Long": (
        4290774380558885855,
        _SC_SERIALIZABLE,
        (("J", "value"),),
        "java.lang.Number",
    ),
    "java.lang.Integer": (
        1360826667806852920,
        _SC_SERIALIZABLE,
        (("I", "value"),),
        "java.lang.Number",
    ),
    "java.lang.Double": (
        -9172774392245257468,
        _SC_SERIALIZABLE,
        (("D", "value"),),
        "java.lang.Number",
    ),
    "java.lang.Float": (
        -2671257302660747028,
        _SC_SERIALIZABLE,
        (("F", "value"),),
        "java.lang.Number",
    ),
    "java.lang.Boolean": (-3665804199014368530, _SC_SERIALIZABLE, (("Z", "value"),), None),
    "java.util.Date": (7523967970034938905, _SC_SERIALIZABLE | _SC_WRITE_METHOD, (), None),
    "java.util.HashMap": (
        362498820763181265,
        _SC_SERIALIZABLE | _SC_WRITE_METHOD,
        (("F", "loadFactor"), ("I", "threshold")),
        None,
    ),
    "java.util.ArrayList": (
        8683452581122892189,
        _SC_SERIALIZABLE | _SC_WRITE_METHOD,
        (("I", "size"),),
        None,
    ),
    # java.time values serialize through this Externalizable proxy.
    "java.time.Ser": (-7683839454370182990, _SC_EXTERNALIZABLE | _SC_BLOCK_DATA, (), None),
}
_LOCAL_DATE_TYPE, _LOCAL_DATE_TIME_TYPE = 3, 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode(values: dict[str, Any]) -> str:
    """The Base64 text Spring's DefaultExecutionContextSerializer writes for `values`."""
    writer = _Writer()
    writer.map(values)
    return base64.b64encode(_MAGIC + writer.out.getvalue()).decode("ascii")


def decode(text: str) -> dict[str, Any]:
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as error:
        raise UnreadableContext(f"not Base64: {error}") from None
    if not data.startswith(_MAGIC):
        raise UnreadableContext("not a Java serialization stream")
    try:
        content = java_loads(data)
    except Exception as error:  # javaobj raises plain exceptions of several kinds
        raise UnreadableContext(f"unreadable Java serialization stream: {error}") from None
    value = _python(content)
    if not isinstance(value, dict):
        raise UnreadableContext(f"the stream holds a {type(value).__name__}, not a map")
    return value


def _class_name(value: Any) -> str:
    classdesc = getattr(value, "classdesc", None)
    return str(classdesc.name) if classdesc is not None else type(value).__name__


def _field(value: JavaInstance, name: str) -> Any:
    for fields in value.field_data.values():
        for field, content in fields.items():
            if field.name == name:
                return content
    raise UnreadableContext(f"{_class_name(value)} without a {name!r} field")


def _python(value: Any) -> Any:
    """A javaobj value as the Python value of the Java type it is (context_values)."""
    if value is None:
        return None
    if isinstance(value, JavaString):
        return str(value)
    if isinstance(value, JavaMap):
        return {str(_python(k)): _python(v) for k, v in value.items()}
    if isinstance(value, JavaList):
        return [_python(v) for v in value]
    if isinstance(value, JavaTime) and value.type in (_LOCAL_DATE_TYPE, _LOCAL_DATE_TIME_TYPE):
        day = date(int(value.year or 0), int(value.month or 0), int(value.day or 0))
        if value.type == _LOCAL_DATE_TYPE:
            return day
        return datetime(
            day.year,
            day.month,
            day.day,
            int(value.hour or 0),
            int(value.minute or 0),
            int(value.second or 0),
            int(value.nano or 0) // 1000,
        )
    name = _class_name(value)
    if name == "java.lang.Boolean":
        return bool(_field(value, "value"))
    if name == "java.lang.Long":
        return int(_field(value, "value"))
    if name == "java.lang.Integer":
        return JavaInteger(int(_field(value, "value")))
    if name == "java.lang.Double":
        return float(_field(value, "value"))
    if name == "java.lang.Float":
        return JavaFloat(_field(value, "value"))
    if name == "java.util.Date":
        (block,) = [b for blocks in value.annotations.values() for b in blocks if b]
        # A bytes object, or a BlockData holding one (javaobj returns either).
        (millis,) = struct.unpack(">q", bytes(getattr(block, "data", block))[:8])
        return _EPOCH + timedelta(milliseconds=millis)
    raise UnreadableContext(f"a {name} value, which jobop does not map to a Python value")


def _modified_utf8(text: str) -> bytes:
    """Java's modified UTF-8: UTF-16 code units, NUL as two bytes, surrogates as three."""
    data = text.encode("utf-16-be", "surrogatepass")  # a Java String may hold lone ones
    units = struct.unpack(f">{len(data) // 2}H", data)
    out = bytearray()
    for unit in units:
        if 0 < unit < 0x80:
            out.append(unit)
        elif unit < 0x800:
            out += bytes((0xC0 | unit >> 6, 0x80 | unit & 0x3F))
        else:
            out += bytes((0xE0 | unit >> 12, 0x80 | unit >> 6 & 0x3F, 0x80 | unit & 0x3F))
    return bytes(out)


class _Writer:
    """ObjectOutputStream's grammar for the classes in _CLASSES."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self._next_handle = _BASE_HANDLE
        self._class_handles: dict[str, int] = {}

    def _handle(self) -> int:
        handle = self._next_handle
        self._next_handle += 1
        return handle

    def _byte(self, value: int) -> None:
        self.out.write(bytes((value,)))

    def _utf(self, text: str) -> None:
        data = _modified_utf8(text)
        self.out.write(struct.pack(">H", len(data)) + data)

    def _class(self, name: str | None) -> None:
        if name is None:
            self._byte(_TC_NULL)
            return
        if name in self._class_handles:
            self.out.write(struct.pack(">BI", _TC_REFERENCE, self._class_handles[name]))
            return
        uid, flags, fields, superclass = _CLASSES[name]
        self._byte(_TC_CLASSDESC)
        self._utf(name)
        self.out.write(struct.pack(">qBH", uid, flags, len(fields)))
        self._class_handles[name] = self._handle()
        for code, field in fields:
            self.out.write(code.encode("ascii"))
            self._utf(field)
        self._byte(_TC_ENDBLOCKDATA)  # no class annotation
        self._class(superclass)

    def _object(self, name: str) -> None:
        self._byte(_TC_OBJECT)
        self._class(name)
        self._handle()

    def _block(self, data: bytes) -> None:
        self.out.write(struct.pack(">BB", _TC_BLOCKDATA, len(data)) + data)

    def value(self, value: Any) -> None:
        if value is None:
            self._byte(_TC_NULL)
        elif isinstance(value, str):
            data = _modified_utf8(value)
            if len(data) <= 0xFFFF:
                self.out.write(struct.pack(">BH", _TC_STRING, len(data)) + data)
            else:
                self.out.write(struct.pack(">BQ", _TC_LONGSTRING, len(data)) + data)
            self._handle()
        elif isinstance(value, bool):
            self._object("java.lang.Boolean")
            self.out.write(struct.pack(">?", value))
        elif isinstance(value, JavaInteger):
            self._object("java.lang.Integer")
            self.out.write(struct.pack(">i", value))
        elif isinstance(value, int):
            self._object("java.lang.Long")
            self.out.write(struct.pack(">q", value))
        elif isinstance(value, JavaFloat):
            self._object("java.lang.Float")
            self.out.write(struct.pack(">f", value))
        elif isinstance(value, float):
            self._object("java.lang.Double")
            self.out.write(struct.pack(">d", value))
        elif isinstance(value, datetime) and value.tzinfo is not None:
            self._object("java.util.Date")
            millis = (value - _EPOCH) // timedelta(milliseconds=1)
            self._block(struct.pack(">q", millis))
            self._byte(_TC_ENDBLOCKDATA)
        elif isinstance(value, datetime):
            self._object("java.time.Ser")
            self._block(bytes((_LOCAL_DATE_TIME_TYPE,)) + _local_date(value) + _local_time(value))
            self._byte(_TC_ENDBLOCKDATA)
        elif isinstance(value, date):
            self._object("java.time.Ser")
            self._block(bytes((_LOCAL_DATE_TYPE,)) + _local_date(value))
            self._byte(_TC_ENDBLOCKDATA)
        elif isinstance(value, list | tuple):
            self._object("java.util.ArrayList")
            self.out.write(struct.pack(">i", len(value)))
            self._block(struct.pack(">i", len(value)))  # the capacity
            for item in value:
                self.value(item)
            self._byte(_TC_ENDBLOCKDATA)
        elif isinstance(value, dict):
            self.map(value)
        else:
            raise TypeError(f"a {type(value).__name__} has no Java serialized form here")

    def map(self, values: dict[str, Any]) -> None:
        self._object("java.util.HashMap")
        # HashMap's table: a power of two holding the entries at load factor 0.75.
        capacity = 16
        while capacity * 3 // 4 < len(values):
            capacity *= 2
        self.out.write(struct.pack(">fi", 0.75, capacity * 3 // 4))
        self._block(struct.pack(">ii", capacity, len(values)))
        for key, item in values.items():
            self.value(key)
            self.value(item)
        self._byte(_TC_ENDBLOCKDATA)


def _local_date(value: date) -> bytes:
    return struct.pack(">iBB", value.year, value.month, value.day)


def _local_time(value: datetime) -> bytes:
    """LocalTime.writeExternal: trailing zero fields are left out, the last one negated."""
    hour, minute, second, nano = value.hour, value.minute, value.second, value.microsecond * 1000
    if nano:
        return struct.pack(">bbbi", hour, minute, second, nano)
    if second:
        return struct.pack(">bbb", hour, minute, ~second)
    if minute:
        return struct.pack(">bb", hour, ~minute)
    return struct.pack(">b", ~hour)
