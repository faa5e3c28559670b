"""Fuzzing the SGF reader: whatever the input, it returns a game or raises SgfError, nothing else.

Three sources of input: text over SGF's own alphabet, raw bytes (the charset rule runs), and
mutations of a valid record, which reach deeper into the reader than random text does. A
game that parses is replayed too, since a record can be well formed and still break the rules.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deepkata.go.sgf import SgfError, parse_sgf

VALID = (
    "(;FF[4]GM[1]CA[UTF-8]SZ[9]KM[6.5]HA[2]RE[W+2.5]PB[J\u00fcrgen]PW[\u4e95\u5c71]\n"
    "AB[cc][gg]AW[ee:ff]PL[W]C[a \\] comment \\\\ and\\\n a soft break]\n"
    ";W[ec];B[dc]\n(;W[ce];B[];W[tt])\n(;W[ff]AE[aa];B[aa](;W[ab])(;W[ba])))\n"
    "(;SZ[5];B[cc];W[cc])\n"
).encode()

# SGF's syntax, letters for identifiers and points, digits and ':' for values, white space, and
# characters that are not ASCII
ALPHABET = "(;)[]\\" + "ABCGHKMPSWZabcdeftz" + "0123456789.:+-" + " \n\r\t" + "\u00fc\u4e95\u00a0"


def must_parse_or_refuse(data: str | bytes) -> None:
    try:
        game = parse_sgf(data)
        game.to_state()
    except SgfError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=120))
def test_text_over_the_sgf_alphabet(text):
    must_parse_or_refuse("(;" + text)
    must_parse_or_refuse(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([b"(", b";", b")", b"[", b"]", b"\\", b"CA[", b"B[", b"SZ["]), st.binary(max_size=4)), max_size=40))
def test_bytes_over_the_sgf_alphabet(pieces):
    must_parse_or_refuse(b"(;" + b"".join(pieces))


# a mutation: (what, where as a fraction of the length, how long, the bytes it puts in)
MUTATION = st.tuples(st.sampled_from(["delete", "insert", "replace", "repeat"]), st.floats(0, 1), st.integers(1, 12), st.binary(min_size=1, max_size=6))


def mutate(data: bytes, mutations: list[tuple[str, float, int, bytes]]) -> bytes:
    for what, at, length, payload in mutations:
        i = int(at * len(data))
        if what == "delete":
            data = data[:i] + data[i + length :]
        elif what == "insert":
            data = data[:i] + payload + data[i:]
        elif what == "replace":
            data = data[:i] + payload + data[i + len(payload) :]
        else:  # repeat a slice, e.g. a whole node or a '(' ... ')'
            data = data[: i + length] + data[i:]
    return data


@settings(max_examples=300, deadline=None)
@given(st.lists(MUTATION, min_size=1, max_size=4))
def test_mutations_of_a_valid_record(mutations):
    must_parse_or_refuse(mutate(VALID, mutations))


def test_the_record_the_mutations_start_from_is_valid():
    game = parse_sgf(VALID)
    assert (game.size, game.handicap, game.info["PB"], game.info["PW"]) == (9, 2, "J\u00fcrgen", "\u4e95\u5c71")
    assert game.info["C"] == "a ] comment \\ and a soft break"
    assert len(game.moves) == 5 and game.notes[0] == "the file holds 2 games; only the first was read"
    game.to_state()
