#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

    tests/fuzz/make_corpus.py

request_path: typical requests, and an even spread of tests/e2e/hostile_requests.json (six per
category, those within the fuzzers' -max_len), each after the two bytes that pick how the bytes
arrive and the limits (see request_path_fuzz.cpp).

python_result: handler results spelled as python_value_decoder programs; the instruction
numbers are read from python_value_decoder.hpp, the words and odd objects from
python_result_helpers.py, so the seeds follow any change to either.

Run it after changing any of those; the files are small and named after what they hold.
"""

import os
import re
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)

import hostile_cases_doc  # noqa: E402
import python_result_helpers as helpers  # noqa: E402

MAX_LEN = 4096  # scripts/fuzz passes the same -max_len
HOSTILE_PER_CATEGORY = 6


def request_seed(request, pieces=0, limits=0):
    """pieces: 0 at once, 1..7 in pieces of at most 1, 2, 3, 8, 17, 64, 1000 bytes (+8k seeds
    another split); limits: 0 defaults, 1 (1 KiB, 64 B), 2 (128 B, 8 B), 3 (8 KiB, 0)."""
    data = request.encode("latin-1") if isinstance(request, str) else request
    return bytes([pieces, limits]) + data


TYPICAL = {
    "get-root": request_seed("GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88\r\n"
                             "Accept: */*\r\n\r\n"),
    "get-param-query": request_seed("GET /hello/bob?x=1&y=a+b&x=%41&flag HTTP/1.1\r\nHost: h\r\n"
                                    "x-sleep: 0\r\nAccept-Encoding: gzip\r\n\r\n", pieces=1),
    "get-static-beside-param": request_seed("GET /hello/world HTTP/1.1\r\nHost: h\r\n\r\n"),
    "head-via-get": request_seed("HEAD /static/css/site.css HTTP/1.1\r\nHost: h\r\n\r\n", 2),
    "catch-all-empty": request_seed("GET /static/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    "post-content-length": request_seed("POST /hello/alice HTTP/1.1\r\nHost: h\r\n"
                                        "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
                                        "hello world", pieces=3),
    "post-chunked": request_seed("POST /files/a/b/c HTTP/1.1\r\nHost: h\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n"
                                 "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\n"
                                 "X-Trailer: t\r\n\r\n", pieces=4),
    "put-user": request_seed("PUT /users/42 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"),
    "patch-post": request_seed("PATCH /users/1/posts/2 HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 0\r\n\r\n", pieces=5),
    "options-catch-all": request_seed("OPTIONS /users/7/any/thing HTTP/1.1\r\nHost: h\r\n\r\n"),
    "options-asterisk": request_seed("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
    "method-not-allowed": request_seed("DELETE /hello/x HTTP/1.1\r\nHost: h\r\n\r\n"),
    "unknown-method": request_seed("BREW /users/1 HTTP/1.1\r\nHost: h\r\n\r\n"),
    "not-found": request_seed("GET /nowhere/at/all HTTP/1.1\r\nHost: h\r\n\r\n"),
    "trace-deep": request_seed("TRACE /a/b/c/d/e/f HTTP/1.1\r\nHost: h\r\n\r\n"),
    "param-or-catch-all": request_seed("GET /files/report/raw HTTP/1.1\r\nHost: h\r\n\r\n"
                                       "POST /files/report/raw HTTP/1.1\r\nHost: h\r\n"
                                       "Content-Length: 1\r\n\r\nx", pieces=6),
    "percent-path": request_seed("GET /hello/caf%C3%A9%2Fx?q=%E2%82%AC HTTP/1.1\r\nHost: h\r\n"
                                 "\r\n"),
    "absolute-form": request_seed("GET http://example.com:8080/users/9?a=b HTTP/1.1\r\n"
                                  "Host: example.com:8080\r\n\r\n"),
    "http10-keep-alive": request_seed("GET /users/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                                      "GET / HTTP/1.0\r\n\r\n"),
    "expect-continue": request_seed("POST /hello/bob HTTP/1.1\r\nHost: h\r\nExpect: 100-continue"
                                    "\r\nContent-Length: 4\r\n\r\nbody", pieces=7),
    "pipelined-three": request_seed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"
                                    "GET /users/5 HTTP/1.1\r\nHost: h\r\n\r\n"
                                    "GET /hello/x/friends HTTP/1.1\r\nHost: h\r\n"
                                    "Connection: close\r\n\r\n", pieces=1),
    "header-names": request_seed("GET / HTTP/1.1\r\nhost: h\r\nx-forwarded-FOR: 1.2.3.4\r\n"
                                 "X-A: 1\r\nx-a: 2\r\nCONTENT-type: a/b\r\n\r\n"),
    "small-limits-body": request_seed("POST /hello/x HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 100\r\n\r\n" + "b" * 100, limits=1),
    "small-limits-head": request_seed("GET /" + "a" * 200 + " HTTP/1.1\r\nHost: h\r\n\r\n",
                                      limits=2),
    "no-body-limit-chunked": request_seed("POST /files/x HTTP/1.1\r\nHost: h\r\n"
                                          "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
                                          limits=3),
}


def hostile_seeds():
    data = hostile_cases_doc.load()
    seeds = {}
    for category in data["categories"]:
        fitting = [c for c in data["cases"] if c["category"] == category
                   and len(hostile_cases_doc.request_bytes(c)) + 2 <= MAX_LEN]
        step = max(1, len(fitting) // HOSTILE_PER_CATEGORY)
        for i, case in enumerate(fitting[::step][:HOSTILE_PER_CATEGORY]):
            seeds["hostile-" + case["id"]] = request_seed(hostile_cases_doc.request_bytes(case),
                                                          pieces=i % 8)
    return seeds


# ---------------------------------------------------------------------------------------------
# python_result: a tiny assembler for python_value_decoder programs.

def _ops():
    with open(os.path.join(HERE, "python_value_decoder.hpp"), encoding="utf-8") as f:
        text = f.read()
    body = re.search(r"enum class op : std::uint8_t \{(.*?)\};", text, re.S).group(1)
    return re.findall(r"^\s*([a-z_]+),", body, re.M)


OPS = _ops()
ODD = list(helpers.ODD_MAKERS)


class Program:
    def __init__(self):
        self.code = bytearray()

    def op(self, name, *operands):
        self.code.append(OPS.index(name))
        self.code.extend(operands)
        return self

    def int(self, value):
        assert 0 <= value < 1000
        return self.op("push_small_int", value & 0xFF, value >> 8)

    def text(self, value):
        data = value.encode("utf-8", "surrogateescape")
        return self.op("push_text", len(data), *data)

    def units(self, value):
        """Text as UCS-2 code units, so lone high surrogates can be written."""
        codes = [ord(c) for c in value]
        return self.op("push_code_points", len(codes),
                       *[b for c in codes for b in (c & 0xFF, c >> 8)])

    def word(self, value):
        return self.op("push_word", helpers.WORDS.index(value))

    def bytes(self, value, kind="push_bytes"):
        return self.op(kind, len(value), *value)

    def view(self, variant, value):
        return self.op("push_memoryview", variant, len(value), *value)

    def odd(self, name):
        return self.op("make_odd", ODD.index(name))

    def headers(self, pairs):
        """A dict of str names to str values or lists of them."""
        for name, value in pairs:
            self.text(name)
            if isinstance(value, list):
                for v in value:
                    self.text(v)
                self.op("make_list", len(value))
            else:
                self.text(value)
        return self.op("make_dict", len(pairs))

    def response(self, status=200, body="ok", headers=()):
        self.int(status)
        self.text(body)
        return self.headers(list(headers)).op("make_tuple", 3)


def P():
    return Program()


def result_seeds():
    s = {
        "text-body-and-headers": P().response(200, "hello", [("Content-Type", "text/plain"),
                                                             ("Set-Cookie", ["a=1", "b=2"])]),
        "bytes-body-none-headers": P().int(201).bytes(b"\x00\xffraw").op("push_none")
                                      .op("make_tuple", 3),
        "bytearray-body": P().int(404).bytes(b"gone", "push_bytearray").headers([])
                             .op("make_tuple", 3),
        "strided-memoryview": P().int(200).view(1, b"abcdef").op("push_none").op("make_tuple", 3),
        "released-memoryview": P().int(200).view(2, b"abc").op("push_none").op("make_tuple", 3),
        "2d-memoryview": P().int(200).view(4, b"abcd").op("push_none").op("make_tuple", 3),
        "array-memoryview": P().int(200).view(5, b"abcd").op("push_none").op("make_tuple", 3),
        "list-result": P().int(200).text("").headers([]).op("make_list", 3),
        "pair-result": P().int(200).text("x").op("push_none").op("make_tuple", 3).odd("pair"),
        "subclass-result": P().response(200, "x").op("make_subclass"),
        "status-bool": P().op("push_true").text("").op("push_none").op("make_tuple", 3),
        "status-99": P().response(99),
        "status-100": P().response(100),
        "status-101": P().response(101),
        "status-199": P().response(199),
        "status-200": P().response(200),
        "status-599": P().response(599),
        "status-600": P().response(600),
        "status-huge": P().op("push_huge_int", 250).text("").op("push_none").op("make_tuple", 3),
        "status-big-negative": P().bytes(b"\x01" * 9, "push_big_int").text("")
                                  .op("push_none").op("make_tuple", 3),
        "status-float": P().op("push_float", *struct.pack("<d", 200.0)).text("")
                           .op("push_none").op("make_tuple", 3),
        "status-int-subclass": P().int(200).op("make_subclass").text("").op("push_none")
                                  .op("make_tuple", 3),
        "body-surrogate-escape": P().int(200).text("caf\udce9").op("push_none")
                                    .op("make_tuple", 3),
        "body-lone-high-surrogate": P().int(200).units("a\ud800b").op("push_none")
                                       .op("make_tuple", 3),
        "body-none": P().int(200).op("push_none").op("push_none").op("make_tuple", 3),
        "header-crlf": P().response(200, "", [("X-A", "v\r\nX-B: w")]),
        "header-nul": P().response(200, "", [("X-A", ["ok", "a\0b"])]),
        "header-bad-name": P().response(200, "", [("Bad Name", "v")]),
        "header-empty-list": P().response(200, "", [("X-Empty", []), ("X-A", "1")]),
        "header-tuple-values": P().int(200).text("").text("X-T").text("a").text("b")
                                  .op("make_tuple", 2).op("make_dict", 1).op("make_tuple", 3),
        "header-int-value": P().int(200).text("").text("X-N").int(5).op("make_dict", 1)
                               .op("make_tuple", 3),
        "header-int-name": P().int(200).text("").int(7).text("v").op("make_dict", 1)
                              .op("make_tuple", 3),
        "header-repr-raises": P().int(200).text("").op("push_none").odd("repr_raises").text("v")
                                 .op("make_dict", 1).op("make_tuple", 3),
        "header-forged-type": P().int(200).text("").op("push_none").odd("forged_type_name")
                                 .text("v")
                                 .op("make_dict", 1).op("make_tuple", 3),
        "header-surrogate-name": P().int(200).text("").text("X-\udc80").text("v")
                                    .op("make_dict", 1).op("make_tuple", 3),
        "header-str-subclass-twice": P().int(200).text("").text("X-A").text("1").text("X-A")
                                        .op("make_subclass").text("2").op("make_dict", 2)
                                        .op("make_tuple", 3),
        "headers-dict-subclass": P().int(200).text("").headers([("X-A", ["1"])])
                                    .op("make_subclass").op("make_tuple", 3),
        "headers-list-subclass": P().int(200).text("").text("X-A").text("1").op("make_list", 1)
                                    .op("make_subclass").op("make_dict", 1).op("make_tuple", 3),
        "headers-cycle": P().int(200).text("").headers([]).op("make_cycle").op("make_tuple", 3),
        "words": P().int(200).word("\r\n").word("Content-Type").word("\udc80")
                    .op("make_dict", 1).op("make_tuple", 3),
        "two-items": P().int(200).text("").op("make_tuple", 2),
        "four-items": P().int(200).text("").op("push_none").op("push_none").op("make_tuple", 4),
        "str-result": P().text("200 OK"),
        "dict-result": P().headers([("status", "200")]),
        "generator-result": P().response(200).odd("generator"),
        "range-result": P().odd("range"),
    }
    for name in ("seq", "len_raises", "len_negative", "len_huge", "len_raises_silent",
                 "len_raises_loud", "len_raises_system_exit", "item_0_raises", "item_1_raises",
                 "item_2_raises_silent", "len_3", "fresh"):
        s["odd-" + name] = P().int(200).text("x").headers([("X-A", ["1"])]).op("make_tuple", 3)\
                              .odd(name)
    return {name: bytes(program.code) for name, program in s.items()}


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, data in sorted(seeds.items()):
        assert len(data) <= MAX_LEN, name
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print(f"{folder}: {len(seeds)} seeds")


def main():
    write("request_path", {**TYPICAL, **hostile_seeds()})
    write("python_result", result_seeds())


if __name__ == "__main__":
    main()
