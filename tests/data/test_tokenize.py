"""Tokenizer: exact token lists for the default config and for each switch flipped alone."""

from __future__ import annotations

import dataclasses

import pytest

from sentinet.config.schema import TokenizerConfig, from_dict
from sentinet.data.tokenize import Tokenizer
from sentinet.errors import SentinetError


def tok(text: str, **changes: object) -> list[str]:
    return Tokenizer(dataclasses.replace(TokenizerConfig(), **changes))(text)


TWEET = "RT @user: Сбербанк опять завис!!! http://t.co/abc #сбер :((( "


# --------------------------------------------------------------------------------------
# Whole tweets


def test_realistic_tweet_default():
    assert tok(TWEET) == ["<user>", ":", "сбербанк", "опять", "завис", "!!", "<url>", "сбер", ":(("]


def test_realistic_tweet_everything_off():
    off = dict(
        lowercase=False, yo_to_e=False, urls="keep", users="keep", numbers="keep",
        hashtags="keep", emoticons=False, emoji=False, squash_elongations=False, retweets="keep",
    )  # fmt: skip
    assert tok(TWEET, **off) == [
        "RT", "@user", ":", "Сбербанк", "опять", "завис", "!!!", "http://t.co/abc", "#сбер",
        ":", "(((",
    ]  # fmt: skip


def test_bracket_smiley_glued_to_word():
    assert tok("Мегафон, спасибоооо)))") == ["мегафон", ",", "спасибоо", "))"]


def test_tweet_with_everything():
    text = "@Beeline_RUS Ну оооочень медленный 4G... 3,5 Мбит/с за 500₽?! 😡😡 #билайн http://t.co/x1"
    assert tok(text) == [
        "<user>", "ну", "оочень", "медленный", "4g", "...", "<num>", "мбит", "/", "с", "за",
        "<num>", "₽", "?!", "😡", "😡", "билайн", "<url>",
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["", " ", "   \n\t ", "\u200b", "\ufe0f"])
def test_empty_or_blank_gives_no_tokens(text):
    assert tok(text) == []


def test_never_empty_strings():
    text = "🏽 \u200d ​ RT&amp; ))) :) #x @y http://t.co/z 1 ..."
    for changes in [{}, {"emoji": False}, {"urls": "drop", "users": "drop", "numbers": "drop"}]:
        assert all(t and not t.isspace() for t in tok(text, **changes))


# --------------------------------------------------------------------------------------
# Case and ё


def test_lowercase():
    assert tok("Сбербанк ВТБ iPhone") == ["сбербанк", "втб", "iphone"]
    assert tok("Сбербанк ВТБ iPhone", lowercase=False) == ["Сбербанк", "ВТБ", "iPhone"]


def test_yo_to_e():
    assert tok("Ёлки, всё ещё") == ["елки", ",", "все", "еще"]
    assert tok("Ёлки, всё ещё", yo_to_e=False) == ["ёлки", ",", "всё", "ещё"]
    assert tok("Ёлки", lowercase=False) == ["Елки"]


def test_decomposed_letters_and_stress_marks_do_not_split_words():
    assert tok("и\u0306од все\u0308 кре\u0301дит") == ["йод", "все", "кредит"]


# --------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize(
    "url",
    [
        "http://t.co/abc",
        "https://t.co/AbC123",
        "HTTP://vk.com/wall-1_2?x=1&y=2#top",
        "www.sberbank.ru/ru/person",
        "t.co/abc",
        "http://сбербанк.рф/акции",
        "http://t.co/faotA…",  # truncated retweet: the ellipsis belongs to the URL
        "http:/…",
        "htt…",
    ],
)
def test_url_shapes(url):
    assert tok(f"смотри {url} тут") == ["смотри", "<url>", "тут"]
    assert tok(f"смотри {url} тут", urls="keep") == ["смотри", url, "тут"]
    assert tok(f"смотри {url} тут", urls="drop") == ["смотри", "тут"]


def test_url_trailing_punctuation_is_not_part_of_it():
    expected = ["(", "см", ".", "http://t.co/abc", ")", "."]
    assert tok("(см. http://t.co/abc).", urls="keep") == expected
    assert tok("тут: https://t.co/abc, и всё!") == ["тут", ":", "<url>", ",", "и", "все", "!"]


def test_url_glued_to_previous_word():
    assert tok("кредитыhttp://t.co/abc") == ["кредиты", "<url>"]
    assert tok("США-http://t.co/abc") == ["сша", "-", "<url>"]


def test_bare_domain_is_words_not_a_url():
    assert tok("sberbank.ru") == ["sberbank", ".", "ru"]


# --------------------------------------------------------------------------------------
# Mentions


def test_mentions():
    text = "@Sberbank_RU, спасибо @tele2"
    assert tok(text) == ["<user>", ",", "спасибо", "<user>"]
    assert tok(text, users="keep") == ["@sberbank_ru", ",", "спасибо", "@tele2"]
    assert tok(text, users="keep", lowercase=False) == ["@Sberbank_RU", ",", "спасибо", "@tele2"]
    assert tok(text, users="drop") == [",", "спасибо"]


def test_email_is_not_a_mention():
    assert tok("info@mts.ru") == ["info", "@", "mts", ".", "ru"]


@pytest.mark.parametrize(
    "mention, kept",
    [
        ("[id123|Имя Фамилия]", "@id123"),  # VK
        ("[club42|Сбербанк Онлайн]", "@club42"),
        ("[public7|ВТБ]", "@public7"),
        ("[event9|Концерт 12.05]", "@event9"),
        ("@id123 (Имя)", "@id123"),
        ("*id123 (Имя Фамилия)", "@id123"),
        ("*club42", "@club42"),
        ("u/spez", "u/spez"),  # Reddit
        ("/u/Some_User-1", "u/some_user-1"),
        ("@user@mastodon.social", "@user@mastodon.social"),  # Mastodon
        ("@ivan.petrov", "@ivan.petrov"),  # Instagram
        ("@Sber_RU", "@sber_ru"),  # Twitter, Telegram
    ],
)
def test_network_mention_markup_is_one_mention(mention, kept):
    text = f"привет {mention}, как дела"
    assert tok(text) == ["привет", "<user>", ",", "как", "дела"]
    assert tok(text, users="keep") == ["привет", kept, ",", "как", "дела"]
    assert tok(text, users="drop") == ["привет", ",", "как", "дела"]


def test_vk_mention_glued_to_text_and_without_a_space():
    assert tok("спасибо[club1|Банк]!*id5(Вася)") == ["спасибо", "<user>", "!", "<user>"]


def test_near_misses_of_mention_markup_stay_words():
    """A parenthesis after a non-VK-id handle is the author's; VK markup needs a numeric id and
    a display text; a lone * is a correction; u/ needs two characters and no word before it."""
    assert tok("@sber (опять) @id1abc (x)") == [
        "<user>", "(", "опять", ")", "<user>", "(", "x", ")",
    ]  # fmt: skip
    assert tok("[durov|Павел] [id1|]") == ["[", "durov", "|", "павел", "]", "[", "id1", "|", "]"]
    assert tok("*исправление km/u/h u/s") == [
        "*", "исправление", "km", "/", "u", "/", "h", "u", "/", "s",
    ]  # fmt: skip


def test_dots_in_mentions():
    # Inner dots with Latin after them are Instagram's; a final dot or one before Cyrillic ends
    # the sentence, and a Mastodon instance keeps its dots but not the sentence's.
    expected = ["@ivan.petrov", ".", "@sber", ".", "спасибо"]
    assert tok("@ivan.petrov. @sber.Спасибо", users="keep") == expected
    assert tok("@user@mastodon.social.", users="keep") == ["@user@mastodon.social", "."]


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("strip", ["в", "russia", "sberbank"]),
        ("keep", ["в", "r/russia", "r/sberbank"]),
        ("drop", ["в"]),
    ],
)
def test_subreddits_are_topics_like_hashtags(mode, expected):
    assert tok("в r/russia /r/Sberbank", hashtags=mode) == expected
    # A bare domain stays words (no URL), and a subreddit needs a letter.
    assert tok("reddit.com/r/sub r/2") == [
        "reddit", ".", "com", "/", "r", "/", "sub", "r", "/", "<num>",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------
# Numbers


def test_numbers():
    text = "за 3 дня 100% 3,5 или 3.5 руб 12.05.2016"
    assert tok(text) == ["за", "<num>", "дня", "<num>", "<num>", "или", "<num>", "руб", "<num>"]
    kept = ["за", "3", "дня", "100%", "3,5", "или", "3.5", "руб", "12.05.2016"]
    assert tok(text, numbers="keep") == kept
    assert tok(text, numbers="drop") == ["за", "дня", "или", "руб"]


def test_digits_inside_words_stay_words():
    text = "Tele2 и 4G, ВТБ24, 2-х, 2016г"
    expected = ["tele2", "и", "4g", ",", "втб24", ",", "2-х", ",", "2016г"]
    assert tok(text) == expected
    assert tok(text, numbers="drop") == expected


def test_number_followed_by_punctuation():
    assert tok("в 2016. Итого 5,а 555-35-35") == [
        "в", "<num>", ".", "итого", "<num>", ",", "а", "<num>", "-", "<num>", "-", "<num>",
    ]  # fmt: skip


def test_digits_are_never_squashed():
    assert tok("1000000 руб", numbers="keep") == ["1000000", "руб"]


# --------------------------------------------------------------------------------------
# Hashtags


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("strip", ["сбер", "-", "зло", "спасибоо"]),
        ("keep", ["#сбер", "-", "зло", "#спасибоо"]),
        ("drop", ["-", "зло"]),
    ],
)
def test_hashtag_modes(mode, expected):
    assert tok("#Сбер - зло #спасибоооо", hashtags=mode) == expected


def test_glued_hashtags_are_separate():
    assert tok("#НГ#Билайн") == ["нг", "билайн"]


def test_hash_without_letters_is_not_a_hashtag():
    assert tok("#1 в рейтинге") == ["#", "<num>", "в", "рейтинге"]


# --------------------------------------------------------------------------------------
# Emoticons


@pytest.mark.parametrize(
    "emoticon, token",
    [
        (":)", ":)"),
        (":-)", ":-)"),
        (":(", ":("),
        (":-(", ":-("),
        (";)", ";)"),
        (":D", ":d"),
        ("xD", "xd"),
        ("XDDDD", "xdd"),
        ("=)", "=)"),
        (":P", ":p"),
        (":Р", ":p"),  # Cyrillic Р, typed on a Russian layout
        ("хД", "xd"),  # Cyrillic х and Д
        ("<3", "<3"),
        (":'(", ":'("),
        ("^_^", "^_^"),
        ("))", "))"),
        (")))", "))"),
        ("(((((", "(("),
        (":)))", ":))"),
    ],
)
def test_emoticons_are_single_tokens(emoticon, token):
    assert tok(f"ок {emoticon} да") == ["ок", token, "да"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("спасибо)))", ["спасибо", "))"]),
        ("опять:(((", ["опять", ":(("]),
        ("Мегафон:)", ["мегафон", ":)"]),
        ("круто;-)", ["круто", ";-)"]),
        ("банк=(", ["банк", "=("]),
    ],
)
def test_emoticons_glued_to_words(text, expected):
    assert tok(text) == expected


def test_emoticons_without_squashing_keep_their_length():
    expected = ["спасибо", ")))))", ":(((", "xddd"]
    assert tok("спасибо))))) :((( xDDD", squash_elongations=False) == expected


def test_emoticons_keep_case_without_lowercase():
    assert tok("xD :P :Р", lowercase=False) == ["xD", ":P", ":P"]


def test_emoticons_off_are_punctuation():
    text = "спасибо))) :) :-( xD"
    assert tok(text, emoticons=False) == ["спасибо", "))", ":", ")", ":", "-", "(", "xd"]


def test_single_bracket_is_punctuation():
    assert tok("банк (ВТБ) норм)") == ["банк", "(", "втб", ")", "норм", ")"]


def test_time_and_ratios_are_not_emoticons():
    assert tok("в 10:30 счёт 2:0") == ["в", "<num>", ":", "<num>", "счет", "<num>", ":", "<num>"]


def test_emoticon_letters_need_a_word_boundary():
    assert tok("text:Data xDrive") == ["text", ":", "data", "xdrive"]


# --------------------------------------------------------------------------------------
# Emoji


def test_emoji_each_its_own_token():
    assert tok("класс😂😂👍") == ["класс", "😂", "😂", "👍"]


def test_emoji_skin_tone_and_variation_selector_removed():
    assert tok("👍🏽 👍 ❤️ ❤") == ["👍", "👍", "❤", "❤"]


def test_emoji_sequences_stay_whole():
    family = "👨\u200d👩\u200d👧"
    assert tok(f"🇷🇺 {family} 👨🏽\u200d💻") == ["🇷🇺", family, "👨\u200d💻"]


def test_emoji_off_drops_them():
    assert tok("класс😂 👍🏽 ❤️!", emoji=False) == ["класс", "!"]


def test_lone_skin_tone_is_dropped():
    assert tok("ок 🏽") == ["ок"]


# --------------------------------------------------------------------------------------
# Elongations


def test_squash_elongations():
    text = "оооочень спасибоооо!!!! ДАААА ??? ......"
    assert tok(text) == ["оочень", "спасибоо", "!!", "даа", "??", "..."]
    unsquashed = ["оооочень", "спасибоооо", "!!!!", "даааа", "???", "......"]
    assert tok(text, squash_elongations=False) == unsquashed


def test_squash_mixed_case_run():
    assert tok("Оооочень") == ["оочень"]
    assert tok("Оооочень", lowercase=False) == ["Оочень"]


def test_three_capitals_are_an_abbreviation():
    assert tok("СССР ООО «BBB» DiabloIII") == ["ссср", "ооо", "«", "bbb", "»", "diabloiii"]
    assert tok("ооо") == ["оо"]


def test_double_letters_untouched():
    assert tok("ссылка ввод") == ["ссылка", "ввод"]


# --------------------------------------------------------------------------------------
# Retweets


def test_retweet_marker():
    assert tok("RT @user: ок") == ["<user>", ":", "ок"]
    assert tok("rt @user: ок") == ["<user>", ":", "ок"]
    assert tok("RT @user: ок", retweets="keep") == ["rt", "<user>", ":", "ок"]
    assert tok("RT @user: ок", retweets="keep", lowercase=False) == ["RT", "<user>", ":", "ок"]


def test_only_a_leading_standalone_rt_is_dropped():
    assert tok("ок RT @user") == ["ок", "rt", "<user>"]
    assert tok("RTfoo ок") == ["rtfoo", "ок"]
    assert tok("  RT RT") == ["rt"]


# --------------------------------------------------------------------------------------
# Words and punctuation


def test_hyphens_and_apostrophes_inside_words():
    text = "что-то Т-Банк кое-как д'Артаньян don’t"
    assert tok(text) == ["что-то", "т-банк", "кое-как", "д'артаньян", "don’t"]


def test_dangling_hyphens_and_quotes_are_punctuation():
    assert tok("банк - зло, 'ок' -да") == ["банк", "-", "зло", ",", "'", "ок", "'", "-", "да"]


def test_punctuation_tokens():
    text = 'Итак: «Билайн» — "МТС"; ВТБ… ок?! да!! нет?? ...'
    assert tok(text) == [
        "итак", ":", "«", "билайн", "»", "—", '"', "мтс", '"', ";", "втб", "…", "ок", "?!",
        "да", "!!", "нет", "??", "...",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------
# HTML entities and invisible characters


def test_html_entities():
    text = "&quot;Т-Банк&quot; &amp; МТС &lt;3 &gt;"
    assert tok(text) == ['"', "т-банк", '"', "&", "мтс", "<3", ">"]


def test_double_escaped_html_entities():
    assert tok("кредиты&amp;#8230; S&amp;amp;P &amp;laquo;ВТБ&amp;raquo;") == [
        "кредиты", "…", "s", "&", "p", "«", "втб", "»",
    ]  # fmt: skip


def test_invisible_characters():
    assert tok("спа\u00adсибо\u200bбанк\ufeff") == ["спасибо", "банк"]


# --------------------------------------------------------------------------------------
# Placeholders and config


def test_placeholders_are_never_mangled():
    text = "@a http://t.co/x 5"
    everything = dict(lowercase=False, squash_elongations=False, emoticons=False, yo_to_e=False)
    assert tok(text, **everything) == ["<user>", "<url>", "<num>"]
    assert tok(text) == ["<user>", "<url>", "<num>"]


def test_literal_placeholder_text_is_not_a_placeholder():
    assert tok("<url>") == ["<", "url", ">"]


def test_invalid_choice_is_an_error():
    with pytest.raises(SentinetError, match="tokenizer.urls"):
        Tokenizer(TokenizerConfig(urls="replace"))


def test_tokenizer_is_reusable_and_deterministic():
    tokenizer = Tokenizer(TokenizerConfig())
    assert tokenizer(TWEET) == tokenizer(TWEET) == tok(TWEET)


# --------------------------------------------------------------------------------------
# Token cap (tokenizer.max_tokens)


def test_max_tokens_keeps_the_first_tokens():
    text = "RT @a сбербанк " + " ".join(f"слово{i}" for i in range(100))
    assert tok(text, max_tokens=3) == ["<user>", "сбербанк", "слово0"]  # a dropped RT does not count
    assert tok(text, max_tokens=3) == tok(text)[:3]
    assert len(tok(text)) == 102  # the default cap (256) leaves a long tweet whole


def test_dropped_pieces_do_not_count_towards_the_cap():
    assert tok("http://t.co/x http://t.co/y а б в", urls="drop", max_tokens=2) == ["а", "б"]


def test_huge_text_is_cut():
    """1.5 MB with nested escapes: the scan stops at the cap and unescaping is bounded (uncapped,
    this took about a minute; scripts/bench_predict.py measures speed, not this test)."""
    tokens = tok("ужасно " * 200_000 + "&" + "amp;" * 20_000)
    assert tokens == ["ужасно"] * 256


def test_max_tokens_must_be_positive():
    with pytest.raises(SentinetError, match=r"tokenizer.max_tokens: 0 must be ≥ 1"):
        from_dict({"tokenizer": {"max_tokens": 0}})


# --------------------------------------------------------------------------------------
# The per-tokenizer cache of normalised pieces


CACHE_TEXTS = [TWEET, "ДАААА!!!! СССР оооочень :-))) xD", "Сбербанк сбербанк СБЕРБАНК ёлка Ёлка",
               "@User #Тег http://t.co/Ab 12,5% 4g", "🙂🏽 👍 ... ....", "rt RT Rt",
               "[id1|Вася] *club2 (Банк) u/Name r/Sub @a@b.social"]


@pytest.mark.parametrize("changes", [{}, {"lowercase": False}, {"squash_elongations": False},
                                     {"hashtags": "keep", "users": "keep"}])
def test_a_reused_tokenizer_gives_what_fresh_ones_give(changes):
    config = dataclasses.replace(TokenizerConfig(), **changes)
    reused = Tokenizer(config)
    for _ in range(2):  # the second pass is served from the cache
        assert [reused(t) for t in CACHE_TEXTS] == [Tokenizer(config)(t) for t in CACHE_TEXTS]
    assert reused._cached > 0


def test_the_cache_is_bounded(monkeypatch):
    from sentinet.data import tokenize

    monkeypatch.setattr(tokenize, "_CACHE_ENTRIES", 3)
    t = Tokenizer(TokenizerConfig())
    assert t("раз два три четыре пять шесть") == ["раз", "два", "три", "четыре", "пять", "шесть"]
    assert t._cached == 3 and sum(map(len, t._cache.values())) == 3
    long_word = "а" + "б" * 100
    assert Tokenizer(TokenizerConfig())(long_word) == ["абб"]
    fresh = Tokenizer(TokenizerConfig())
    fresh(long_word)
    assert fresh._cached == 0  # a long piece is normalised, never remembered


def test_a_text_is_read_up_to_max_text_chars_and_tokens_are_cut():
    """Bounds on length, not only on count: one 30 MB "word" once took gigabytes in the regex."""
    from sentinet.data.tokenize import MAX_TEXT_CHARS, MAX_TOKEN_CHARS

    assert tok("ab" * MAX_TEXT_CHARS) == ["ab" * (MAX_TOKEN_CHARS // 2)]
    assert tok("x " * (MAX_TEXT_CHARS // 2) + "спасибо") == ["x"] * 256  # the count cap still applies
    assert tok(" " * MAX_TEXT_CHARS + "спасибо") == []  # past the characters read
    assert tok(" " * (MAX_TEXT_CHARS - 8) + "спасибо") == ["спасибо"]
    assert tok("а" * 10 * MAX_TEXT_CHARS) == ["аа"]  # an elongation squashed as before
