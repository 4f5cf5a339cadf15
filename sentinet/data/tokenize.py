"""Tweet normalisation and tokenisation for Russian tweets (SentiRuEval-2016 style).

One left-to-right scan with a single regex splits a tweet into typed pieces (url, user,
hashtag, emoticon, emoji, number, word, punctuation); each piece is then normalised on its
own according to ``TokenizerConfig``. Working per piece keeps the switches independent:
lowercasing never touches a kept URL, squashing never touches a number, and placeholders
(``<url>``, ``<user>``, ``<num>``) are produced last, so nothing can mangle them.

Decisions worth knowing:

- Emoticons: western ones (``:) :-( ;D :P =) xD <3 ^_^``) and Russian bracket runs of two
  or more (``))`` ``)))`` ``((((``) are single tokens, also when glued to a word
  (``спасибо)))`` → ``спасибо``, ``))``). A single ``)`` / ``(`` stays punctuation: it is
  as often a parenthesis as a smiley. Emoticons are lowercased like words (``XD`` → ``xd``,
  ``:P`` → ``:p``) and Cyrillic look-alikes typed on a Russian layout map to Latin
  (``:Р`` → ``:p``, ``хД`` → ``xd``); noses are kept (``:-)`` ≠ ``:)``).
- Squashing uses one rule everywhere: a run of 3+ of the same letter or symbol becomes 2
  (``оооочень`` → ``оочень``, ``!!!!`` → ``!!``, ``)))))`` → ``))``, ``:(((`` → ``:((``).
  Exceptions: digits are never squashed; a run of dots becomes ``...`` (an ellipsis, not
  emphasis); exactly three capitals are kept (``СССР``, ``ООО``, ``BBB``, ``III``), since
  Russian spelling only triples a letter in abbreviations — ``ДАААА``/``дааа`` still squash.
- With emoticons off, their characters are plain punctuation: ``:)`` → ``:``, ``)``; a
  bracket run is still one punctuation token, because any run of one symbol is.
- Emoji: one token per emoji; variation selectors and skin tones are removed
  (``👍🏽`` → ``👍``) so all variants share one vector; ZWJ sequences and flags stay whole.
- URLs: ``http(s)://``, ``www.`` and bare ``t.co/`` links; a URL cut off by retweet
  truncation keeps its ``…`` (``http://t.co/ab…``, ``http:/…``). Bare domains
  (``sberbank.ru``) are not URLs: their words carry the company name.
- Mentions: every network's markup is one piece, so ``users`` treats them all alike —
  ``@name``, Instagram's ``@ivan.petrov``, Mastodon's ``@user@mastodon.social``, Reddit's
  ``u/name`` and ``/u/name``, VK's ``[id1|Имя Фамилия]``, ``[club1|Сбербанк]``
  (``public``, ``event`` too), ``@id1 (Имя)`` and ``*id1 (Имя)`` → ``<user>``. Kept
  (``users: keep``), a mention is its account's handle, one token: ``@id1``, ``@club1``,
  ``u/name``; VK's display text is dropped, as it is free text naming the same account
  many ways (placeholder mode drops it too). A parenthesis after a plain ``@name`` stays
  words: outside VK's numeric ids it is the author's. Reddit's ``r/sub`` is a topic, not
  a person: it follows ``hashtags`` (``r/sberbank`` → ``sberbank``; keep: ``r/sberbank``).
- ``RT`` is dropped only as the first token; kept URLs stay verbatim (paths are
  case-sensitive), kept mentions and hashtags are lowercased like words.
"""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from collections.abc import Callable
from itertools import chain
from typing import TypeVar

from sentinet.config.schema import TokenizerConfig
from sentinet.errors import SentinetError

URL, USER, NUM = "<url>", "<user>", "<num>"

# --------------------------------------------------------------------------------------
# Patterns (constants). Order in _token_regex matters: earlier kinds win at a position.

# URL body: ASCII URL characters plus \w (Cyrillic domains). Trailing sentence punctuation
# ("see http://t.co/x." or "(http://t.co/x)") is left out via the lookahead. Retweets are
# cut with "…", often inside the URL ("http://t.co/ab…", "http:/…", "htt…"): the "…" then
# belongs to the URL. A URL may be glued to the word before it ("смотриhttp://t.co/x").
_URL_CHAR = r"[\w\-.~:/?#\[\]@!$&'()*+,;=%]"
_URL_TAIL = r"[.,!?:;()\[\]']"
_URL_START = r"(?i:https?://)"
_URL = (
    rf"(?:{_URL_START}|(?<![\w.])(?:(?i:www\.)|t\.co/))"
    rf"{_URL_CHAR}+?(?={_URL_TAIL}*(?!{_URL_CHAR}))…?"
    r"|(?i:https?:?/{0,2}|htt?)…"
)
# Mentions in each network's markup, one piece each (see "Decisions worth knowing"). A VK id
# is numeric and not followed by more handle ("@id1abc", "@id1.x" are plain handles).
_VK_ID = r"(?:id|club|public|event)\d+(?!\w|\.[0-9A-Za-z_])"
_DOMAIN = r"\w+(?:-\w+)*(?:\.\w+(?:-\w+)*)+"
_MENTIONS = [
    rf"\[{_VK_ID}\|[^\[\]|\n]{{1,100}}\]",  # VK: [id1|Имя Фамилия] [club1|Сбербанк]
    rf"(?<!\w)[@*]{_VK_ID}(?:[ \t]?\([^()\n]{{1,100}}\))?",  # VK: @id1 (Имя), *id1 (Имя), *id1
    r"(?<![\w/])/?u/(?=\w*[^\W\d])\w{2,}(?:-\w+)*",  # Reddit: u/name, /u/name
    # @name, Instagram's @ivan.petrov (Latin after the dot: "@sber.Спасибо" is two
    # sentences), Mastodon's @user@instance.social; "info@mts.ru" is no mention.
    rf"(?<!\w)@\w+(?:\.[0-9A-Za-z_]+)*(?:@{_DOMAIN})?",
]
_USER = rf"(?=[\[@*/u])(?:{'|'.join(_MENTIONS)})"  # the lookahead skips them all elsewhere
_HASHTAG = (
    r"#(?=\w*[^\W\d])\w+"  # needs a letter ("#1" is "number one"); "#нг#билайн" is two
    r"|(?<![\w/])/?r/(?=\w*[^\W\d])\w{2,}"  # a Reddit community (r/sub, /r/sub) is a topic
)

_EMOTICON = "|".join(
    [
        r"(?<!\w)[xXхХ][DД]+(?!\w)",  # xD XDDD (also Cyrillic х/Д)
        r"[:;=]['\-^]?(?:\)+|\(+|\]+|\[+|[DДPРpрoOоО]+(?!\w)|[*|/\\](?![\w/]))",  # :) :-( ;D :'(
        r"</?3+(?!\d)",  # <3 </3
        r"\^_*\^|-_-|>_<|(?<!\w)(?:[oO0]_[oO0]|T_T)(?!\w)",  # ^_^ -_- o_O
        r"\){2,}|\({2,}",  # Russian bracket smileys: )) ))) (((
    ]
)

# Pictographic code points (Unicode emoji blocks plus the older symbols used as emoji).
_PICTO = (
    r"[\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa"
    r"\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe\u2600-\u27bf\u2934\u2935\u2b05-\u2b07"
    r"\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]"
)
_EMOJI_MOD = r"[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]"  # VS, skin, tags
_EMOJI = (
    r"[\U0001f1e6-\U0001f1ff]{2}"  # flag: two regional indicators
    r"|[0-9#*]\ufe0f?\u20e3"  # keycap 1️⃣
    rf"|{_PICTO}{_EMOJI_MOD}*(?:\u200d{_PICTO}{_EMOJI_MOD}*)*"  # incl. ZWJ sequences
)

# A number is not glued to letters: "4g" and "2-х" are words, "555-35-35" is three numbers.
_NUMBER = r"(?>\d+(?:[.,]\d+)*)%?(?![-\u2010\u2011'’]?[^\W\d_])"
_WORD_CHAR = rf"(?:(?!{_URL_START})[^\W_])"  # a letter or digit that does not start a URL
_WORD = rf"{_WORD_CHAR}+(?:[-\u2010\u2011'’]{_WORD_CHAR}+)*"  # что-то, Т-Банк, tele2, д'Артаньян
# Mixed ?!-runs, or a run of one symbol ("!!", "...", "«", "—"); joiners are never tokens.
_PUNCT = r"[!?]{2,}|(?P<pc>[^\w\s\u200d\u20e3\ufe00-\ufe0f]|_)(?P=pc)*"


def _token_regex(emoticons: bool) -> re.Pattern[str]:
    kinds = [("url", _URL), ("user", _USER), ("hashtag", _HASHTAG)]
    if emoticons:
        kinds.append(("emoticon", _EMOTICON))
    kinds += [("emoji", _EMOJI), ("number", _NUMBER), ("word", _WORD), ("punct", _PUNCT)]
    return re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in kinds))


_TOKEN_RE = {True: _token_regex(True), False: _token_regex(False)}
# A chunk that _URL takes whole from its start: it ends where a URL character that is not
# trailing punctuation is followed by the chunk's end, and nowhere before.
_WHOLE_URL = re.compile(rf"{_URL_START}{_URL_CHAR}*(?:(?!{_URL_TAIL}){_URL_CHAR})")

# Soft hyphen, direction marks, word joiner, BOM, stress accents: unseen, yet they split words.
_INVISIBLE = re.compile(r"[\u00ad\u200e\u200f\u2060\ufeff\u0300\u0301]")
_EMOJI_VARIANT = re.compile(r"[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
_LETTER_RUN = re.compile(r"([^\W\d_])\1{2,}", re.IGNORECASE)  # Оооо is one run
_SYMBOL_RUN = re.compile(r"(.)\1{2,}")
_RUN_OF_3 = re.compile(r"(.)\1\1", re.DOTALL)
_VK_ACCOUNT = re.compile(r"[\[@*](\w+)")  # the id in VK's mention markup
_LOOKALIKES = str.maketrans("хХДдРрОо", "xXDdPpOo")  # Cyrillic typed into emoticons
_UNESCAPE_ROUNDS = 4  # exports escape at most twice or three times (&amp;amp;quot;)
# Normalised pieces and chunks' tokens are remembered per tokenizer: words repeat (Zipf), so most
# of a tweet was tokenised before, and predict spent a third of its time here. Bounded, and only
# short pieces and chunks, so a hostile input cannot grow it.
_CACHE_ENTRIES = 200_000
_CACHE_PIECE_CHARS = 64
_CHUNK_CHARS, _CHUNK_TOKENS = 32, 4  # nearly every chunk of a tweet: an entry stays small
_MISSING = object()
_T = TypeVar("_T")
CHUNK = "chunk"  # the cache's key for whole chunks (a whitespace-separated run of the raw text)
PUNCTUATION = "punctuation"  # and for the pieces of the punctuation around a chunk's core
# Where VK's mention markup may start; only this markup can hold a space ([id1|Имя Фамилия], @id1 (Имя)).
_VK_START = re.compile(r"[\[@*](?:id|club|public|event)\d")
# Punctuation that never joins the word after (_OPENING) or before (_CLOSING) it: no \w, no
# "." before a word (www., t.co/), no "/" (u/, r/, ://), no "…" (htt…), no "-" or "'" (что-то).
_OPENING = "\"«("
_CLOSING = ".,!?;:\"»)"
_ALL_WORD = re.compile(r"\w+")
# Only this much of a text is read. The token cap bounds the tokens, not their length: Python's
# regex engine keeps backtracking state per character of a match, so one 30 MB "word" took
# gigabytes. 256 tokens of any real text fit well inside it.
MAX_TEXT_CHARS = 100_000
MAX_TOKEN_CHARS = 200  # no vectors file has longer words; a longer token is cut here


# --------------------------------------------------------------------------------------
# Tokenizer


class Tokenizer:
    """Callable ``text -> tokens``; pure apart from its (validated) config and its bounded cache
    of normalised pieces and chunks, which changes speed, never tokens. ``cache=False`` takes the
    reference path: one scan of the whole text, nothing remembered (the tests compare the two)."""

    def __init__(self, config: TokenizerConfig, cache: bool = True):
        _check_choices(config)
        self.config = config
        self.regex = _TOKEN_RE[config.emoticons]
        self.normalisers = {
            "url": self._url,
            "user": self._user,
            "hashtag": self._hashtag,
            "emoticon": self._emoticon,
            "emoji": self._emoji,
            "number": self._number,
            "word": self._word,
            "punct": self._punct,
        }
        # One budget for both kinds of entry: pieces by kind, and whole chunks under CHUNK.
        self._cache: dict[str, dict] = {kind: {} for kind in self.normalisers}
        chunks = self._cache[CHUNK] = _Chunks()
        chunks.entry, self._chunks, self._cache[PUNCTUATION] = self._chunk_entry, chunks, {}
        self._cached = 0
        self._room = _CACHE_ENTRIES if cache else 0
        self._caching = cache
        self._max_tokens = config.max_tokens
        self._drops_retweets = config.retweets == "drop"
        # A link chunk's tokens: the same for every link, unless links are kept.
        self._link_entry = {"placeholder": (URL,), "drop": ()}.get(config.urls)

    def __call__(self, text: str) -> list[str]:
        """The first ``max_tokens`` tokens of the first MAX_TEXT_CHARS characters; the scan
        stops there, so a huge text costs no more than a long tweet. No token spans whitespace
        (but VK's markup, which takes the reference path): a text's tokens are its chunks' tokens
        one after another, and each chunk's are remembered (see _chunk_entry)."""
        text = text[:MAX_TEXT_CHARS]
        if not self._caching:
            return self._scanned(_clean(text))
        chunks, cap = text.split(), self._max_tokens
        cut = len(chunks) > cap  # a long text: its first `cap` chunks may hold enough tokens
        if cut:
            del chunks[cap:]
        try:
            entry_of = self._chunks.__getitem__  # a missing chunk's is _chunk_entry's
            tokens = list(chain.from_iterable(map(entry_of, chunks)))
            if chunks and type(entry_of(chunks[0])) is _Lead:  # the first piece may be a dropped "RT"
                for entry in map(entry_of, chunks):  # (chunks without a piece before it)
                    if type(entry) is not _Lead or entry.lead is not None:
                        if type(entry) is _Lead:
                            del tokens[0]  # the "RT"'s token
                        break
        except _Spans:
            return self._scanned(_clean(text))
        if len(tokens) >= cap:
            del tokens[cap:]
        elif cut:  # many chunks without a token: read on the slow way
            return self._scanned(_clean(text))
        return tokens

    def _chunk_entry(self, raw: str) -> tuple[str, ...]:
        """The tokens of a whitespace-free chunk of the raw text (a _Lead where they differ when
        the chunk holds the text's first piece); raises _Spans where VK markup, which may span
        spaces, may start. Cleaning is chunk-local too: unescaping, NFC and the invisibles never
        join, split or move whitespace (tests/data/test_tokenize_fastpath.py checks all this)."""
        if raw.isalpha() and raw[0] not in "xXхХ" and unicodedata.is_normalized("NFC", raw):
            entry: tuple[str, ...] = (self._word(raw)[:MAX_TOKEN_CHARS],)  # a word, clean as it is
            if self._is_dropped_retweet_marker("word", raw):
                entry = _Lead(entry)
                entry.lead = ()
            return self._remember(self._cache[CHUNK], raw, entry, _CHUNK_CHARS)
        if raw[:4].lower() == "http" and _whole_clean_link(raw):
            return (raw[:MAX_TOKEN_CHARS],) if self._link_entry is None else self._link_entry  # not remembered
        pieces = self._chunk_pieces(_clean(raw))
        if pieces is None:
            raise _Spans  # rare: not remembered either
        tokens, link = [], False
        for kind, piece in pieces:
            token = self._normalised(kind, piece)
            if token:
                tokens.append(token[:MAX_TOKEN_CHARS])
            link = link or kind == "url"
        entry = tuple(tokens)
        if not pieces or self._is_dropped_retweet_marker(*pieces[0]):
            entry = _Lead(entry)
            entry.lead = entry[1:] if pieces else None  # a word is never dropped: entry[0] is "RT"
        if link or len(entry) > _CHUNK_TOKENS:  # links are nearly all unique; many tokens, rare
            return entry
        return self._remember(self._cache[CHUNK], raw, entry, _CHUNK_CHARS)

    def _remember(self, table: dict, key: str, value: _T, chars: int = _CACHE_PIECE_CHARS) -> _T:
        """``value``, kept in one of the cache's tables while it has room, for a short ``key``."""
        if self._cached < self._room and len(key) <= chars:
            table[key] = value
            self._cached += 1
        return value

    def _chunk_pieces(self, text: str) -> list[tuple[str, str]] | None:
        """(kind, piece) of a cleaned chunk as the whole text's scan finds them, or None where VK
        markup may start. A word, mention, hashtag or number with only plain punctuation around
        it skips the scan but for that punctuation (remembered: "," and ")))" recur)."""
        if _VK_START.search(text):
            return None
        body = text.lstrip(_OPENING)
        core = body.rstrip(_CLOSING)
        kind = _core_kind(core)
        if kind is None:
            return self._scan(text)
        opening, closing = text[: len(text) - len(body)], body[len(core):]
        return [*self._punctuation(opening), (kind, core), *self._punctuation(closing)]

    def _punctuation(self, text: str) -> list[tuple[str, str]]:
        pieces = self._cache[PUNCTUATION].get(text) if text else []
        return self._remember(self._cache[PUNCTUATION], text, self._scan(text)) if pieces is None else pieces

    def _scan(self, text: str) -> list[tuple[str, str]]:
        return [(m.lastgroup, m.group()) for m in self.regex.finditer(text)]

    def _scanned(self, text: str) -> list[str]:
        """The reference path: the tokens of one scan of the whole (cleaned) text."""
        tokens = []
        for i, match in enumerate(self.regex.finditer(text)):
            kind, piece = match.lastgroup, match.group()
            if i == 0 and self._is_dropped_retweet_marker(kind, piece):
                continue
            token = self._normalised(kind, piece)
            if token:
                tokens.append(token[:MAX_TOKEN_CHARS])
                if len(tokens) == self._max_tokens:
                    break
        return tokens

    def _normalised(self, kind: str, piece: str) -> str | None:
        """``normalisers[kind](piece)``, remembered (the normalisers are pure functions)."""
        cache = self._cache[kind]
        token = cache.get(piece, _MISSING)
        if token is _MISSING:
            token = self.normalisers[kind](piece)
            if kind != "url":  # links are nearly all unique
                self._remember(cache, piece, token)
        return token

    def _is_dropped_retweet_marker(self, kind: str, piece: str) -> bool:
        return self._drops_retweets and kind == "word" and piece.casefold() == "rt"

    # Each normaliser returns the token for one piece, or None to drop it.

    def _url(self, piece: str) -> str | None:
        return _by_mode(self.config.urls, URL, piece)  # kept verbatim: paths are case-sensitive

    def _user(self, piece: str) -> str | None:
        return _by_mode(self.config.users, USER, self._fold(_mention_handle(piece)))

    def _hashtag(self, piece: str) -> str | None:
        mark, body = ("#", piece[1:]) if piece[0] == "#" else ("r/", piece.split("r/", 1)[1])
        body = self._word(body)
        return {"strip": body, "keep": mark + body, "drop": None}[self.config.hashtags]

    def _emoticon(self, piece: str) -> str:
        token = self._fold(piece.translate(_LOOKALIKES))
        return _SYMBOL_RUN.sub(r"\1\1", token) if self.config.squash_elongations else token

    def _emoji(self, piece: str) -> str | None:
        return _EMOJI_VARIANT.sub("", piece) if self.config.emoji else None

    def _number(self, piece: str) -> str | None:
        return _by_mode(self.config.numbers, NUM, piece)

    def _word(self, piece: str) -> str:
        # Squash before lowercasing: the exception for abbreviations needs the capitals.
        return self._fold(_squash_letters(piece) if self.config.squash_elongations else piece)

    def _punct(self, piece: str) -> str:
        return _squash_symbols(piece) if self.config.squash_elongations else piece

    def _fold(self, text: str) -> str:
        """ё → е, then lowercase: the spelling variants of one word share one vector."""
        if self.config.yo_to_e:
            text = text.replace("ё", "е").replace("Ё", "Е")
        return text.lower() if self.config.lowercase else text


class _Chunks(dict):
    """Raw chunk → its tokens; a missing one is ``entry(chunk)``: lookups run in C, misses too."""

    entry: Callable[[str], tuple[str, ...]]

    def __missing__(self, raw: str) -> tuple[str, ...]:
        return self.entry(raw)


class _Spans(Exception):
    """Raised for a chunk where VK markup may start: the text takes the reference path."""


class _Lead(tuple):
    """A chunk's tokens; ``lead``: its tokens when it holds the text's first piece (without a
    dropped "RT"), None when it holds no piece at all (the first piece comes later)."""

    lead: tuple[str, ...] | None


# --------------------------------------------------------------------------------------
# Helpers


def _whole_clean_link(raw: str) -> bool:
    """Whether _URL takes the raw chunk whole and _clean leaves it as it is (ASCII, no "&")."""
    if not raw.isascii() or "&" in raw:
        return False
    scheme, tco, path = raw.partition("://t.co/")
    return bool(tco and scheme in ("http", "https") and path.isalnum() or _WHOLE_URL.fullmatch(raw))


def _core_kind(core: str) -> str | None:
    """The kind of piece a chunk's core (inside _OPENING and _CLOSING punctuation) is whole, where
    no other kind can take it and the punctuation cannot join it; None: the scan decides."""
    if not core:
        return None
    if core.isalpha():  # not xD (an emoticon), nor www before "." (a link)
        return None if core[0] in "xXхХ" or core.lower() == "www" else "word"
    if core.isdecimal():
        return "number"
    mark, name = core[0], core[1:]
    if mark == "@" and _ALL_WORD.fullmatch(name):  # VK's @id1 was sent to the reference path before
        return "user"
    if mark == "#" and _ALL_WORD.fullmatch(name) and not name.isdecimal():
        return "hashtag"
    return None


def _clean(text: str) -> str:
    """Undo exporters' HTML escaping, which is often doubled (``&amp;quot;``); compose
    letters (й, ё) so \\w sees whole words; ZWSP is a space, other invisibles go."""
    for _ in range(_UNESCAPE_ROUNDS):  # bounded: "&amp;amp;amp;..." would be quadratic
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    if text.isascii():  # already NFC, and every character removed or replaced below is not ASCII
        return text
    text = unicodedata.normalize("NFC", text)
    return _INVISIBLE.sub("", text.replace("\u200b", " "))


def _mention_handle(piece: str) -> str:
    """The account a mention names, as ``users: keep`` keeps it: VK's markup becomes its
    ``@id1`` / ``@club1`` handle (the display text is dropped), ``/u/name`` → ``u/name``."""
    if piece[0] in "[*" or piece[-1] == ")":
        return "@" + _VK_ACCOUNT.match(piece).group(1)
    return piece.lstrip("/")


def _by_mode(mode: str, placeholder: str, piece: str) -> str | None:
    return {"placeholder": placeholder, "keep": piece, "drop": None}[mode]


def _squash_letters(word: str) -> str:
    """A letter run of 3+ → its first 2 letters, except exactly three capitals (СССР, ООО)."""

    # Most words hold no run: a plain search of the lowercased word finds every run the case-blind
    # regex can, but for "İ" (lowercased to two characters) and "Σ" (to ς at a word's end).
    if _RUN_OF_3.search(word.lower()) is None and "İ" not in word and "Σ" not in word:
        return word

    def squash(run: re.Match[str]) -> str:
        letters = run.group()
        return letters if len(letters) == 3 and letters.isupper() else letters[:2]

    return _LETTER_RUN.sub(squash, word)


def _squash_symbols(token: str) -> str:
    """3+ of one symbol → 2 (``!!!!`` → ``!!``); a dot run is an ellipsis, kept as ``...``."""
    if len(token) >= 3 and token == "." * len(token):
        return "..."
    return _SYMBOL_RUN.sub(r"\1\1", token)


def _check_choices(config: TokenizerConfig) -> None:
    """The YAML loader validates choices; this catches configs built in code."""
    for f in dataclasses.fields(config):
        choices = f.metadata.get("choices")
        value = getattr(config, f.name)
        if choices and value not in choices:
            raise SentinetError(f"tokenizer.{f.name}: {value!r} is not one of {', '.join(choices)}")
