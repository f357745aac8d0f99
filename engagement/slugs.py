"""Text cleaning for names that outside systems store: pure functions from any text to a safe form.

Customer and opportunity names arrive from Salesforce as typed by sales: accents, emoji, right-to-left
scripts, punctuation, line breaks pasted from a document, or nothing usable at all. Each function here
returns text that is valid for one family of rules whatever the input, and says what it keeps.
These helpers know nothing about ids or uniqueness; `engagement.keys` adds those.
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into ASCII; folding them keeps "Müller & Søn" readable as
# "muller-son" rather than "muller-sn".
_ASCII_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
    }
)
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def ascii_words(text: str) -> list[str]:
    """The lowercase ASCII words of `text`, accents folded ("Société Générale" -> société, générale
    -> ["societe", "generale"]); scripts without an ASCII form (CJK, Arabic, emoji) drop out."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return _ASCII_WORD.findall(folded.encode("ascii", "ignore").decode("ascii").lower())


def slug(text: str, max_length: int, separator: str = "-") -> str:
    """`text` as lowercase ASCII words joined by `separator`, at most `max_length` characters.

    Cut at a word boundary when possible, so "Acme – CI/CD Modernisation" becomes
    "acme-ci-cd-modernisation". The result is empty when nothing ASCII-like is left; callers
    decide the fallback. It never starts or ends with the separator and never repeats it.

    Example:
        >>> slug("Société Générale de Données", 20)
        'societe-generale-de'
    """
    result = ""
    for word in ascii_words(text):
        candidate = f"{result}{separator}{word}" if result else word
        if len(candidate) > max_length:
            # a single first word longer than the limit is cut rather than dropped
            return result or word[:max_length]
        result = candidate
    return result


def _is_control(char: str) -> bool:
    # C* = controls, format characters (bidi overrides, zero-width), surrogates, private use and
    # unassigned code points; Zl/Zp = the Unicode line and paragraph separators.
    return unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp")


def one_line(text: str, max_length: int) -> str:
    """`text` as a single line: control and invisible format characters removed, any run of
    whitespace (line breaks included) collapsed to one space, trimmed, at most `max_length`
    characters. For titles and file names, where almost anything else is allowed."""
    # Controls that separate words (tab, CR, LF, U+2028...) become spaces; invisible format
    # characters (bidi overrides, zero-width joiners) vanish so they do not split words.
    spaced = "".join(
        " " if char.isspace() else "" if _is_control(char) else char
        for char in unicodedata.normalize("NFC", text)
    )
    return " ".join(spaced.split())[:max_length].rstrip()


def _gitlab_name_char(char: str) -> bool:
    # GitLab's name rule (lib/gitlab/regex.rb project_name_regex / group_name_regex): letters,
    # digits, emoji, '_', '.', dashes (\p{Pd}) and spaces. We keep letters (L*) and decimal digits
    # (Nd), a subset of Ruby's \p{Alnum}, and drop emoji: their range has changed between releases.
    category = unicodedata.category(char)
    return category[0] == "L" or category in ("Nd", "Pd") or char in "_. "


def _gitlab_name_start(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "L" or category == "Nd" or char == "_"


def gitlab_name_text(text: str, max_length: int) -> str:
    """`text` reduced to what GitLab accepts in a group or project NAME (not path): letters of any
    script, digits, '_', '.', dashes and single spaces, starting with a letter, digit or '_'.
    Other characters become spaces. Empty when nothing is left."""
    kept = "".join(
        char if _gitlab_name_char(char) else " " for char in unicodedata.normalize("NFC", text)
    )
    words = " ".join(kept.split())
    start = next((i for i, char in enumerate(words) if _gitlab_name_start(char)), len(words))
    return words[start:][:max_length].rstrip()


def slack_text(text: str) -> str:
    """`text` as Slack shows it literally: Slack reads `<...>` as mentions (`<!channel>` notifies a
    whole channel) and links, and `&` starts an entity, so the three are escaped as Slack asks.
    Every name, comment or value psflow posts goes through here; the markup around it is psflow's.

    Example:
        >>> slack_text("Acme <!channel> & <https://evil.example|click>")
        'Acme &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
