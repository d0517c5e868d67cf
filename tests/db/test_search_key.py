"""The search folding of :mod:`recsys.db.search_key` (pure: no database)."""

from __future__ import annotations

import random
import string
import unicodedata

import pytest

from recsys.db.search_key import LETTERS, MARK_RANGES, SEPARATOR, fold, song_search_key


@pytest.mark.parametrize(("text", "folded"), [
    ("Beyoncé", "beyonce"),
    ("BEYONCÉ", "beyonce"),
    ("Mötley Crüe", "motley crue"),
    ("Sigur Rós", "sigur ros"),
    ("Dvořák", "dvorak"),
    ("Tiësto", "tiesto"),
    ("Nguyễn", "nguyen"),  # two marks on one letter
    ("Beyonce\u0301", "beyonce"),  # already decomposed
    ("Ελληνικά ΣΟΦΟΣ", "ελληνικα σοφοσ"),  # Greek tonos; final sigma folds to σ
    ("Ёлка", "елка"),
])
def test_accents_and_case_go(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(("text", "folded"), [
    ("Straße", "strasse"), ("STRASSE", "strasse"), ("ẞ", "ss"),
    ("Røyksopp", "royksopp"), ("MØ", "mo"),
    ("Æther", "aether"), ("Œuvre", "oeuvre"),
    ("Łódź", "lodz"), ("Đorđe Balašević", "dorde balasevic"),
    ("Sigurðsson", "sigurdsson"), ("Þór", "thor"),
    ("Ħamrun", "hamrun"),
])
def test_letters_nfkd_keeps_whole_get_their_latin_spelling(text, folded):
    assert fold(text) == folded


def test_no_mapped_letter_survives_and_every_mapping_is_ascii():
    for letter, spelled in LETTERS.items():
        assert spelled.isascii() and fold(letter) == spelled
        assert fold(letter.upper()) == spelled or letter.upper() == letter


def test_turkish_i_in_every_form_folds_to_i():
    """Decision: İ, I, ı and i are one letter for search (language-agnostic folding)."""
    assert {fold(c) for c in "İIıi"} == {"i"}
    assert fold("İstanbul") == fold("ISTANBUL") == "istanbul"
    assert fold("Işık") == "isik"


@pytest.mark.parametrize("text", ["東京事変", "宇多田ヒカル", "がぎぐげご パピプ", "한국어 노래",
                                  "周杰倫"])
def test_cjk_is_unchanged(text):
    """Kana keep their voicing marks, Hangul syllables stay composed."""
    assert fold(text) == text


def test_compatibility_forms_become_plain_letters():
    assert fold("ｂｅｙｏｎｃé") == "beyonce"  # full-width
    assert fold("ｶﾞ") == "ガ"  # half-width katakana
    assert fold("ﬁne") == "fine"  # ligature
    assert fold("Ⅻ") == "xii"


def test_typographic_punctuation_becomes_ascii():
    assert fold("Don’t Stop Believin’") == "don't stop believin'"
    assert fold("“Heroes”") == '"heroes"'
    assert fold("Live – 2005 — Remastered") == "live - 2005 - remastered"


def test_whitespace_is_collapsed_and_trimmed():
    assert fold("  Love \t\n  Me\u00a0Do\u2003 ") == "love me do"
    assert fold("a\x1fb") == "a b"  # the separator is whitespace: never in a folded text


@pytest.mark.parametrize("text", ["", None, "   ", "\t\n", "\u0301"])
def test_empty_and_blank(text):
    assert fold(text) == ""


def test_ascii_fast_path_agrees_with_the_general_path():
    """The ASCII shortcut gives what NFKD + casefold + marks + whitespace give."""
    rng = random.Random(7)
    samples = ["".join(rng.choice(string.printable) for _ in range(20)) for _ in range(500)]
    samples += [chr(c) for c in range(128)]
    for text in samples:
        general = unicodedata.normalize("NFKD", text).casefold()
        assert fold(text) == " ".join(general.split()), repr(text)


def test_only_diacritical_marks_are_removed():
    """The removed ranges hold combining marks only; other scripts' marks stay."""
    for lo, hi in MARK_RANGES:
        assert {unicodedata.category(chr(c)) for c in range(lo, hi + 1)} <= {"Mn", "Me", "Cn"}
    assert fold("हिन्दी") == "हिन्दी"  # Devanagari vowel signs and virama are not accents
    assert fold("שָׁלוֹם") == "שָׁלוֹם"  # nor Hebrew points


def test_folding_is_idempotent():
    for text in ["Beyoncé", "Straße", "Mötley Crüe", "東京事変", "Don’t", "İstanbul", "ｶﾞ"]:
        assert fold(fold(text)) == fold(text)


def test_song_key_is_folded_title_and_artist_apart():
    key = song_search_key("Halo ", "BEYONCÉ")
    assert key == f"halo{SEPARATOR}beyonce"
    assert song_search_key("", "") == SEPARATOR  # a key is never empty
    assert song_search_key(None, "x") == f"{SEPARATOR}x"


def test_no_needle_reaches_across_title_and_artist():
    """A folded needle cannot contain the separator, whatever was typed."""
    key = song_search_key("Crazy in Love", "Beyoncé")
    for typed in ("love beyonce", "love\x1fbeyonce", "love\tbeyonce", "love\u2028beyonce"):
        assert fold(typed) not in key
    assert fold("in love") in key and fold("BEYONCÉ") in key
