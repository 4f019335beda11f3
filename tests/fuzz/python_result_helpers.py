"""The Python half of tests/fuzz/python_result_fuzz.cpp.

python_value_decoder.cpp calls big_int, huge_int, memoryview_of, subclass and odd to build the
values a handler might return; the fuzz target then compares the C++ conversion with
expected_response, a second reading of SPEC.md's result rules written here in Python.

Every object here is deterministic: expected_response reads each value a second time, after
the C++ side, and must see what it saw. Subclasses lie in every method the contract does not
use, so a conversion that calls one of them (instead of reading the stored data) shows up.
"""

import array
import collections
import ctypes
import re

# Strings handlers put in responses, and the ones that must never reach the wire.
WORDS = [
    "", "200", "OK", "Content-Type", "content-type", "text/plain; charset=utf-8", "X-Test",
    "Set-Cookie", "a=b; Path=/", "Location", "/next", "Content-Length", "Transfer-Encoding",
    "chunked", "Connection", "close", "Date", "Server", "\r\n", "\r", "\n", "\0", "\t", " ",
    "X-A\r\nX-B: c", "value\r\n\r\nbody", "é", "\udc80", "\udcff", "\ud800", "\U0001f600",
    "a" * 300, "Bad Name", "X-Ünï", ":", "X_Under", "!#$%&'*+-.^_`|~",
]


def big_int(data):
    return int.from_bytes(data, "little", signed=True)


def huge_int(k):
    """±10**(40 * (k // 2)): from k = 216 on, past str()'s 4300-digit limit."""
    value = 10 ** (40 * (k >> 1))
    return -value if k & 1 else value


def memoryview_of(data, variant):
    variant %= 8
    even = data[: len(data) // 2 * 2]
    if variant == 1:
        return memoryview(data)[::2]
    if variant == 2:
        view = memoryview(data)
        view.release()
        return view
    if variant == 3:
        return memoryview(data)[::-1]
    if variant == 4 and even:
        return memoryview(even).cast("B", [2, len(even) // 2])
    if variant == 5:
        items = array.array("H")
        items.frombytes(even)
        return memoryview(items)
    if variant == 6:
        return memoryview(bytearray(data))
    return memoryview(data)


class Str(str):
    def __str__(self):
        raise RuntimeError("Str.__str__ called")

    def encode(self, *args, **kwargs):
        raise RuntimeError("Str.encode called")

    def __hash__(self):  # unlike str's: an equal str and Str are two dict keys
        return 7

    def __eq__(self, other):
        return self is other


class Bytes(bytes):
    def __bytes__(self):
        raise RuntimeError("Bytes.__bytes__ called")

    def __len__(self):
        return 1


class ByteArray(bytearray):
    def __len__(self):
        return 1


class Int(int):
    def __index__(self):
        raise RuntimeError("Int.__index__ called")

    def __int__(self):
        raise RuntimeError("Int.__int__ called")

    def __repr__(self):
        raise RuntimeError("Int.__repr__ called")


class Float(float):
    pass


class Dict(dict):
    def items(self):
        raise RuntimeError("Dict.items called")

    def __iter__(self):
        raise RuntimeError("Dict.__iter__ called")

    def __getitem__(self, key):
        raise RuntimeError("Dict.__getitem__ called")

    def __len__(self):
        return 99


class List(list):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        raise RuntimeError("List.__getitem__ called")

    def __iter__(self):
        raise RuntimeError("List.__iter__ called")


class Tuple(tuple):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        raise RuntimeError("Tuple.__getitem__ called")


Pair = collections.namedtuple("Pair", "status body headers")

SUBCLASSES = {str: Str, bytes: Bytes, bytearray: ByteArray, int: Int, float: Float, dict: Dict,
              list: List, tuple: Tuple}


def subclass(value):
    """The value as an instance of a lying subclass of its type (itself if there is none)."""
    cls = SUBCLASSES.get(type(value))
    return cls(value) if cls else value


def _items(payload):
    return list(payload) if type(payload) in (tuple, list) else [payload]


class Seq:
    """A sequence that is neither tuple nor list: read through __len__ and __getitem__.

    `error` makes the exception to raise (from __len__, or from item `fail_at`): a new one each
    time, since raising a stored one again would grow its traceback, and with it the count of
    references to this object, on every call.
    """

    def __init__(self, items, length=None, fail_at=None, error=None):
        self.items, self.length, self.fail_at, self.error = items, length, fail_at, error

    def __len__(self):
        if self.error is not None and self.fail_at is None:
            raise self.error()
        return len(self.items) if self.length is None else self.length

    def __getitem__(self, i):
        if i == self.fail_at:
            raise self.error()
        return self.items[i]


class Fresh(Seq):
    """Hands out a new copy of an item on every access: the caller must own what it gets."""

    def __getitem__(self, i):
        item = Seq.__getitem__(self, i)
        return type(item)(item) if type(item) in (list, dict, bytearray) else item


class SilentError(Exception):
    def __str__(self):
        raise RuntimeError("SilentError.__str__ called")


class LoudError(Exception):
    def __str__(self):
        return "line one\r\nX-Injected: yes\r\n" * 20


class BadRepr:
    def __repr__(self):
        raise RuntimeError("BadRepr.__repr__ called")


class LongRepr:
    def __repr__(self):
        return "\r\n".join(["X-Injected: yes"] * 100)


# A class whose name a log line must not take at face value.
Forged = type("Forged\r\nX-Injected: yes", (), {})


# Odd objects by name (make_corpus.py spells seeds with the names), most built around a payload.
ODD_MAKERS = {
    "seq": lambda p: Seq(_items(p)),
    "len_raises": lambda p: Seq(_items(p), error=lambda: RuntimeError("len failed")),
    "len_negative": lambda p: Seq(_items(p), length=-1),
    "len_huge": lambda p: Seq(_items(p), length=2 ** 62),
    "len_raises_silent": lambda p: Seq(_items(p), error=SilentError),
    "len_raises_loud": lambda p: Seq(_items(p), error=LoudError),
    "len_raises_system_exit": lambda p: Seq(_items(p), error=lambda: SystemExit(3)),
    "item_0_raises": lambda p: Seq(_items(p), length=3, fail_at=0, error=lambda: KeyError("k")),
    "item_1_raises": lambda p: Seq(_items(p), length=3, fail_at=1, error=IndexError),
    "item_2_raises_silent": lambda p: Seq(_items(p), length=3, fail_at=2, error=SilentError),
    "len_3": lambda p: Seq(_items(p), length=3),  # IndexError past the real items
    "fresh": lambda p: Fresh(_items(p)),
    "pair": lambda p: Pair(*(_items(p) + [None] * 3)[:3]),
    "generator": lambda p: (x for x in _items(p)),
    "range": lambda p: range(200, 203),
    "dict_of_itself": lambda p: {p: p} if _hashable(p) else {},
    "repr_raises": lambda p: BadRepr(),
    "repr_long": lambda p: LongRepr(),
    "forged_type_name": lambda p: Forged(),
    "frozenset": lambda p: frozenset(),
}


def _hashable(value):
    try:
        hash(value)
        return True
    except Exception:
        return False


_ODD_LIST = list(ODD_MAKERS.values())


def odd(variant, payload):
    """The odd object number `variant` (modulo their number) of ODD_MAKERS."""
    return _ODD_LIST[variant % len(_ODD_LIST)](payload)


# ---------------------------------------------------------------------------------------------
# The reference: what the result should become, read with the base types' own methods so that
# no override is consulted. None when SPEC.md says the result is refused (a 500).

TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
FORBIDDEN = (b"\r", b"\n", b"\0")
_is_sequence = ctypes.pythonapi.PySequence_Check  # what "sequence" means to the C API
_is_sequence.argtypes = [ctypes.py_object]


class Refused(Exception):
    pass


def expected_response(result):
    """(status, body bytes, [(name bytes, [value bytes, ...]), ...]) or None when refused."""
    try:
        status, body, headers = _three_items(result)
        return _status(status), _body(body), _headers(headers)
    except Refused:
        return None


def _three_items(result):
    kind = type(result)
    for base in (tuple, list):
        if issubclass(kind, base):
            if base.__len__(result) != 3:
                raise Refused
            return [base.__getitem__(result, i) for i in range(3)]
    if issubclass(kind, (str, bytes, bytearray, memoryview)) or not _is_sequence(result):
        raise Refused
    try:
        if len(result) != 3:
            raise Refused
        return [result[i] for i in range(3)]
    except BaseException:
        raise Refused


def _status(status):
    kind = type(status)
    if kind is bool or not issubclass(kind, int):
        raise Refused
    value = int.__index__(status)
    if not 200 <= value <= 599:
        raise Refused
    return value


def _body(body):
    kind = type(body)
    if issubclass(kind, (bytes, bytearray)):
        return bytes(memoryview(body))
    if issubclass(kind, str):
        return _encoded(body)
    if kind is memoryview:
        try:
            return memoryview.tobytes(body)
        except ValueError:  # released
            raise Refused
    raise Refused


def _encoded(text):
    try:
        return str.encode(text, "utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise Refused


def _headers(headers):
    if headers is None:
        return []
    if not issubclass(type(headers), dict):
        raise Refused
    grouped = {}  # name -> values; first appearance decides the order, as in httpy::fields
    for key, value in dict.items(headers):
        name = _name(key)
        values = _values(value)
        if values:
            grouped.setdefault(name, []).extend(values)
    return list(grouped.items())


def _name(key):
    if not issubclass(type(key), str):
        raise Refused
    try:
        name = str.encode(key, "utf-8")
    except UnicodeEncodeError:
        raise Refused
    if not TOKEN.match(name):
        raise Refused
    return name


def _values(value):
    kind = type(value)
    if issubclass(kind, str):
        return [_value(value)]
    for base in (list, tuple):
        if issubclass(kind, base):
            return [_value(base.__getitem__(value, i)) for i in range(base.__len__(value))]
    raise Refused


def _value(value):
    if not issubclass(type(value), str):
        raise Refused
    data = _encoded(value)
    if any(c in data for c in FORBIDDEN):
        raise Refused
    return data
