"""The tokenizer's fast path (whitespace chunks, each tokenised once and remembered) gives
exactly the tokens of its reference path (one scan of the whole text, nothing remembered,
``Tokenizer(config, cache=False)``): over generated tweets under every switch, cold and warm,
with a cache that fills up, on the real training tweets when they are there; and the facts
about Unicode and the patterns that make chunks independent hold."""

from __future__ import annotations

import copy
import itertools
import pickle
import random
import re
import sys
import unicodedata

import pytest

from sentinet.config.schema import TokenizerConfig
from sentinet.data import tokenize
from sentinet.data.tokenize import Tokenizer

from ..helpers import SHARED

TRAINING = [SHARED / "data" / "sentirueval2016" / name for name in ("bank_train_2016.xml", "tkk_train_2016.xml")]

# Fragments of tweets, glued to each other or separated by any kind of whitespace.
WORDS = ["Сбербанк", "сбербанк", "СБЕРБАНК", "ёлка", "Ёлки", "всё", "ещё", "оооочень", "ДАААА", "дааа", "СССР",
         "ООО", "BBB", "iPhone", "tele2", "4g", "2-х", "что-то", "Т-Банк", "д'Артаньян", "it’s", "RT", "rt", "Rt",
         "xD", "XDDD", "хД", "xDD", "xd", "Дд", "x", "ну", "ВТБ", "Мегафон", "спасибоооо", "привет", "кредит",
         "и\u0306од", "все\u0308", "кре\u0301дит", "сбер\u00adбанк", "а", "Ъ", "ǅ", "ǈ", "ﬁ", "µ", "ß", "İ"]
LINKS = ["http://t.co/abc", "https://t.co/Qr6JbSVTxY", "http://t.co/ab…", "http:/…", "htt…", "www.sberbank.ru",
         "WWW.X.RU/a", "t.co/xyz", "sberbank.ru", "смотриhttp://t.co/x", "(http://t.co/x)", "http://t.co/x.",
         "https://ru.wikipedia.org/wiki/Сбербанк_России?x=1&y=[2]", "http://x.ru/@id1", "http://a.b/c;d,e!",
         "HTTP://T.CO/UP", "http://", "https://t.co/'", "http://x.ru/a_b-c~d#e%20"]
MENTIONS = ["@user", "@User_1", "@ivan.petrov", "@sber.Спасибо", "@user@mastodon.social", "u/name", "/u/name",
            "r/sberbank", "/r/sub", "[id1|Вася Пупкин]", "[club12|Сбербанк]", "[public3|x]", "[event4|y z]",
            "@id1 (Имя)", "*id1 (Имя Фамилия)", "*club2", "@id1abc", "@id1.x", "[id1|", "@club7(Банк)",
            "info@mts.ru", "@", "*", "[", "]", "|", "[id1|a\nb]", "@id5\t(x)"]
TAGS = ["#сбер", "#нг#билайн", "#1", "#Тег", "#", "#_", "#x_y"]
EMOTICONS = [":)", ":-(", ";D", ":P", "=)", ":'(", ":Р", "<3", "</3", "^_^", "-_-", ">_<", "o_O", "T_T", "))",
             ")))", "((((", ":(((", ":-)))", ":*", ":/", ":\\", ":|", ")", "(", "=D", ":DDD", ":pp", "0_0"]
EMOJI = ["😡", "👍🏽", "👍", "🙂🏽", "👨\u200d👩\u200d👧", "🇷🇺", "1️⃣", "❤️", "❤", "\ufe0f", "🏽", "\u200d", "\u20e3",
         "☺", "⬅", "🤷\u200d♂️"]
NUMBERS = ["12,5%", "555-35-35", "3.14", "500", "1", "2015", "1.000.000", "7%", "4-5", "10'000", "٣"]
PUNCT = ["!!!!", "?!", "...", "....", "«", "»", "—", ",", ";", "_", "__", "--", "!?!?", "…", ".", "?", "''",
         "\"", "/", "&", "<url>", "<", ">", "*", "%%"]
ESCAPES = ["&amp;", "&quot;", "&amp;quot;", "&amp;amp;amp;amp;amp;lt;", "&lt;3", "&#64;id1 (Вася)", "&nbsp;",
           "&#10;", "&#91;id2|Имя&#93;", "&gt;_&lt;", "&amp", "&ampx", "&#x41;", "&nosuch;", "&Tab;",
           "&amp\u3000x;", "&#8203;", "&shy;"]
INVISIBLES = ["\u00ad", "\u200b", "\u200e", "\u200f", "\u2060", "\ufeff", "\u0300", "\u0301", "\u0306"]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\r", "\xa0", "\u3000", "\u2000", "\u2028", "\x1c", "\x85", "\u202f"]
# A word, mention, hashtag or number in punctuation: the shapes the fast path reads without a scan.
WRAPPED = ["(ВЭБ),", "\"дочка\"", "«Сбер»:", "@name:", "@Юзер_1.", "#тег.", "#123)", "#_:", "500,", "(2015)", "www.,",
           "WWW.", "xD)", "(xD", "хД.", "http:", "https:", "htt.", "спасибо!!!", "да?!", "ну...", "привет:)", "привет;)",
           "ок:D", "(((мы", "\"\"\"", "«»", "word:/", "u:", "r.", "@id1:", "*id2)", "@:", "#:", "(@name)", "\"#тег\","]
KINDS = [WORDS] * 5 + [LINKS, MENTIONS, TAGS, EMOTICONS, EMOJI, NUMBERS, PUNCT, ESCAPES, INVISIBLES, WRAPPED, WRAPPED]


def generated(n: int, seed: int) -> list[str]:
    """``n`` tweets of 1 to 25 fragments: most separated by spaces, some glued or by other
    whitespace, now and then an arbitrary code point or a long run of one character."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 25)):
            roll = rng.random()
            if roll < 0.03:
                parts.append(chr(rng.choice([rng.randint(0x20, 0x2fff), rng.randint(0x1f000, 0x1faff)])))
            elif roll < 0.05:
                parts.append(rng.choice("аАxX)(!.ё:") * rng.randint(1, 80))
            else:
                parts.append(rng.choice(rng.choice(KINDS)))
            parts.append(rng.choice(SPACES) if rng.random() < 0.75 else "")
        texts.append("".join(parts[:-1] if rng.random() < 0.5 else parts))
    return texts


def configs() -> list[TokenizerConfig]:
    """Every combination of the on/off switches (64), the three-way modes rotated through
    them so each mode meets each combination's half, and token caps that cut inside chunks."""
    modes = ("placeholder", "keep", "drop")
    hashtag_modes = ("strip", "keep", "drop")
    out = []
    switches = itertools.product([True, False], repeat=5)
    for i, (lowercase, yo_to_e, emoticons, emoji, squash) in enumerate(switches):
        for retweets in ("drop", "keep"):
            j = i + (retweets == "keep")
            out.append(TokenizerConfig(
                lowercase=lowercase, yo_to_e=yo_to_e, emoticons=emoticons, emoji=emoji, squash_elongations=squash,
                retweets=retweets, urls=modes[j % 3], users=modes[(j + 1) % 3], numbers=modes[(j + 2) % 3],
                hashtags=hashtag_modes[(i // 3 + j) % 3], max_tokens=(256, 1, 2, 7)[i % 4],
            ))  # fmt: skip
    return out


def check_same(config: TokenizerConfig, texts: list[str]) -> None:
    reference = Tokenizer(config, cache=False)
    fast = Tokenizer(config)
    expected = [reference(t) for t in texts]
    for attempt in ("cold", "warm"):  # the second pass is served from the cache
        got = [fast(t) for t in texts]
        for text, want, have in zip(texts, expected, got):
            assert have == want, f"{attempt} {config}: {text!r}"


# --------------------------------------------------------------------------------------
# Fast path = reference path


@pytest.mark.parametrize("seed, config", list(enumerate(configs())),
                         ids=lambda c: "" if isinstance(c, TokenizerConfig) else str(c))
def test_every_switch_combination_gives_the_reference_tokens(seed, config):
    check_same(config, generated(150, seed=100 + seed))


def test_many_generated_tweets_with_the_default_config():
    check_same(TokenizerConfig(), generated(4000, seed=1))


def test_a_cache_that_fills_up_midway_changes_nothing(monkeypatch):
    monkeypatch.setattr(tokenize, "_CACHE_ENTRIES", 50)
    check_same(TokenizerConfig(), generated(300, seed=2))


def test_the_reference_path_remembers_nothing():
    reference = Tokenizer(TokenizerConfig(), cache=False)
    reference("RT @user Сбербанк опять завис!!! :(((")
    assert reference._cached == 0 and not any(reference._cache.values())


def test_links_are_never_remembered():
    t = Tokenizer(TokenizerConfig())
    assert t("http://t.co/abc смотри") == ["<url>", "смотри"]
    assert "http://t.co/abc" not in t._cache["url"] and "http://t.co/abc" not in t._cache[tokenize.CHUNK]


def test_only_short_chunks_of_few_tokens_are_remembered():
    t = Tokenizer(TokenizerConfig())
    longer, short, many = "привет" * 6, "пока" * 8, "a!b?c.d,e"
    assert t(f"{longer} {short} {many} a!b") == [longer, short, "a", "!", "b", "?", "c", ".", "d", ",", "e",
                                                 "a", "!", "b"]
    assert set(t._cache[tokenize.CHUNK]) == {short, "a!b"}  # 32 characters, 4 tokens at most


def test_a_copied_or_unpickled_tokenizer_keeps_its_own_cache():
    t = Tokenizer(TokenizerConfig())
    t("привет мир")
    for other in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        assert other("новое слово") == ["новое", "слово"]
        assert "новое" in other._cache[tokenize.CHUNK] and "новое" not in t._cache[tokenize.CHUNK]


def test_vk_markup_across_spaces_takes_the_reference_path():
    t = Tokenizer(TokenizerConfig(users="keep"))
    for _ in range(2):
        assert t("привет [id1|Вася Пупкин] и @id2 (Имя Фамилия) и &#91;club3|Банк Х&#93;") == [
            "привет", "@id1", "и", "@id2", "и", "@club3"]  # fmt: skip


@pytest.mark.skipif(not all(f.is_file() for f in TRAINING), reason="no SentiRuEval training files in ../shared")
def test_the_training_tweets_give_the_reference_tokens():
    from sentinet.data.readers import read_records

    texts = [r.text for f in TRAINING for r in read_records(f)]
    assert len(texts) > 18_000
    everything_off = TokenizerConfig(
        lowercase=False, yo_to_e=False, urls="keep", users="keep", numbers="keep", hashtags="keep",
        emoticons=False, emoji=False, squash_elongations=False, retweets="keep",
    )  # fmt: skip
    for config in (TokenizerConfig(), everything_off):
        check_same(config, texts)


# --------------------------------------------------------------------------------------
# Why chunks are independent


@pytest.mark.parametrize("seed", range(3))
def test_cleaning_is_chunk_local(seed):
    """Cleaning a whole text leaves the whitespace where it was: its chunks are the cleaned
    chunks of the raw text (which may split further, at a ZWSP or an unescaped &nbsp;)."""
    clean = tokenize._clean
    for text in generated(1500, seed):
        assert clean(text).split() == [part for chunk in text.split() for part in clean(chunk).split()], text


def test_unicode_facts_the_chunks_rely_on():
    """str.split and the regex agree on whitespace; NFC neither makes nor unmakes it; no
    letter is an emoji or a digit (so a chunk of letters is one word); the removed invisibles
    are not whitespace."""
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    space = re.compile(r"\s")
    assert [c for c in chars if c.isspace() != bool(space.match(c))] == []
    changed = [c for c in chars if unicodedata.normalize("NFC", c) != c]
    assert [c for c in changed if c.isspace() != unicodedata.normalize("NFC", c).isspace()] == []
    assert [c for c in changed if not c.isspace() and any(x.isspace() for x in unicodedata.normalize("NFC", c))] == []
    pairs = [(c, d.split()) for c in chars if (d := unicodedata.decomposition(c)) and not d.startswith("<")]
    assert [c for c, parts in pairs if len(parts) == 2 and any(chr(int(h, 16)).isspace() for h in parts)] == []
    not_a_word = re.compile(rf"{tokenize._EMOJI}|\d|[^\w]|_")
    assert [c for c in chars if c.isalpha() and not_a_word.match(c)] == []
    assert not any(c.isspace() for c in "\u00ad\u200b\u200e\u200f\u2060\ufeff\u0300\u0301")


def test_no_pattern_but_vk_markup_matches_whitespace():
    """The fast path's premise, pattern by pattern: only VK's markup can hold a space, and it
    cannot start without what _VK_START finds."""
    for text in ["[id1|Вася Пупкин]", "@id1 (Имя)", "*club2\t(Банк)"]:
        match = tokenize._TOKEN_RE[True].match(text)
        assert match.lastgroup == "user" and match.group() == text and tokenize._VK_START.match(text)
    spaced = generated(500, seed=3)
    for regex in tokenize._TOKEN_RE.values():
        for text in spaced:
            for m in regex.finditer(tokenize._clean(text)):
                assert not any(c.isspace() for c in m.group()) or tokenize._VK_START.search(m.group()), m


def test_a_whole_link_is_what_the_scan_takes_whole():
    tails = (".", ")", "…", "!?", "'", "x", "/", ":)", "@id1", "]", "_")
    texts = LINKS + [link + tail for link in LINKS for tail in tails] + generated(300, seed=4)
    for text in [tokenize._clean(chunk) for text in texts for chunk in text.split()]:
        if tokenize._WHOLE_URL.fullmatch(text):
            for regex in tokenize._TOKEN_RE.values():
                scanned = regex.match(text)
                assert scanned.lastgroup == "url" and scanned.group() == text, text



def test_squashing_skips_the_regex_only_where_it_finds_no_run():
    """_squash_letters' plain search of the lowercased word before its case-blind regex: letters
    that are one letter to the regex (one lowercase, or the regex engine's case twins such as
    K/k/K, ſ/s), three or four in a row, alone, first, last or inside a word, give the regex's
    answer ("İ" lowercases to two characters, "Σ" to ς at a word's end)."""
    import re._casefix as casefix  # the regex engine's letters with more than two cases

    def by_regex(word: str) -> str:
        return tokenize._LETTER_RUN.sub(lambda run: run.group() if len(run.group()) == 3 and run.group().isupper()
                                        else run.group()[:2], word)

    groups: dict[str, set[str]] = {}
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        if c.isalpha() and not c.lower() == c.upper() == c:
            groups.setdefault(c.lower()[0], set()).update(
                v for v in (c, c.upper(), c.title(), *map(chr, casefix._EXTRA_CASES.get(code, ()))) if len(v) == 1)
    for group in groups.values():
        for triple in itertools.product(sorted(group), repeat=3):
            run = "".join(triple)
            for word in (run, "ж" + run, run + "ы", "ж" + run + "ы", run + run[0], "ж" + run + run[-1]):
                assert tokenize._squash_letters(word) == by_regex(word), word
