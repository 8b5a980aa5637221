"""What a new password must be, and why one is refused, in Swedish and English.

Besides length and the username, a password must not be easy to guess: the zxcvbn
estimator (Dropbox's, maintained on PyPI) scores it against its lists of common
passwords, words, names, keyboard patterns, dates and repeats, plus the words an
attacker would try first *here*: the home's names (site slug and name, residents'
names), the person's username and display name, "tryggbo", and Swedish seasons,
months, weekdays and years (zxcvbn's own lists are English and stop at 2019). A
score below :data:`MIN_SCORE` is refused: ``1234567890``, ``password12``,
``solgarden1`` and ``Sommar2026!`` all are.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from config.site import Site

MIN_LENGTH = 10
MAX_LENGTH = 256
#: zxcvbn's scale: 3 is "safely unguessable" (~10^8 guesses and more): beyond online
#: guessing under the sign-in lock, and slow to crack offline against argon2id.
MIN_SCORE = 3
#: zxcvbn's time grows with the length; the first characters decide a weak password.
_ESTIMATE_CHARS = 64

#: Swedish words a password is built on so often that they count as common here.
# fmt: off
SWEDISH_WORDS = (
    "sommar", "vinter", "host", "hosten", "var", "varen",  # seasons
    "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
    "september", "oktober", "november", "december",
    "mandag", "tisdag", "onsdag", "torsdag", "fredag", "lordag", "sondag",
    "losenord", "hemligt", "hejsan", "hejhej", "sverige", "stockholm", "goteborg",
    "malmo", "karlek", "alskar", "mamma", "pappa", "mormor", "morfar", "farmor",
    "farfar", "fotboll", "hockey",
    "boende", "aldreboende", "vard", "sjukhem", "personal", "tryggbo",  # the trade
)
# fmt: on
_YEARS = tuple(str(year) for year in range(1930, 2051))

#: reason -> (Swedish, English)
WHY: dict[str, tuple[str, str]] = {
    "too_short": (
        f"Lösenordet måste ha minst {MIN_LENGTH} tecken.",
        f"The password must be at least {MIN_LENGTH} characters.",
    ),
    "too_long": (
        f"Lösenordet får ha högst {MAX_LENGTH} tecken.",
        f"The password must be at most {MAX_LENGTH} characters.",
    ),
    "spaces": (
        "Lösenordet får inte börja eller sluta med mellanslag.",
        "The password must not start or end with spaces.",
    ),
    "few_characters": (
        "Lösenordet behöver fler olika tecken.",
        "The password needs more different characters.",
    ),
    "username": (
        "Lösenordet får inte innehålla användarnamnet.",
        "The password must not contain the username.",
    ),
    "common": (
        "Lösenordet är ett av de vanligaste lösenorden och prövas först av den som gissar.",
        "The password is one of the most common passwords, the first ones a guesser tries.",
    ),
    "site_words": (
        "Lösenordet bygger på namn som hör till boendet eller personen (boendets namn, "
        "användarnamn, namn); sådant prövas först av den som gissar.",
        "The password is built on names that belong to this home or person (the home's "
        "name, the username, names): a guesser tries those first.",
    ),
    "guessable": (
        "Lösenordet är för lätt att gissa (vanliga ord, årstider, månader, årtal, "
        "tangentmönster). Välj tre eller fyra ord som inte hör ihop.",
        "The password is too easy to guess (common words, seasons, months, years, "
        "keyboard patterns). Choose three or four words that do not belong together.",
    ),
}


class WeakPassword(ValueError):
    """A password that breaks the rules: ``reason`` (a key of :data:`WHY`) and why,
    in Swedish (``sv``) and English (``en``, also the exception's message)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.sv, self.en = WHY[reason]
        super().__init__(self.en)

    def why(self, language: str) -> str:
        """The reason in ``language`` (``sv`` or ``en``)."""
        return self.sv if language == "sv" else self.en

    @property
    def details(self) -> dict[str, str]:
        """For an API error: the reason and both texts."""
        return {"reason": self.reason, "sv": self.sv, "en": self.en}


def _folded(word: str) -> str:
    """Lower case without diacritics (``Solgårdens`` -> ``solgardens``)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(texts: Iterable[str]) -> set[str]:
    """The words of ``texts``, as typed and folded (3 letters or more)."""
    out: set[str] = set()
    for text in texts:
        for word in text.replace("-", " ").replace("_", " ").replace(".", " ").split():
            if len(word) >= 3:
                out |= {word.lower(), _folded(word)}
    return out


def site_words(site: Site) -> set[str]:
    """What a home is called and who lives there: words a guesser tries first."""
    texts = [site.slug, site.site.name]
    texts += [a.resident for a in site.apartments if a.resident]
    return _words(texts)


def check_password(
    password: str, username: str = "", *, display_name: str = "", site: Site | None = None
) -> None:
    """Raise :class:`WeakPassword` unless ``password`` follows the rules (for the
    account ``username`` / ``display_name`` at ``site``)."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword("too_short")
    if len(password) > MAX_LENGTH:
        raise WeakPassword("too_long")
    if password.strip() != password:
        raise WeakPassword("spaces")
    if len(set(password)) < 4:
        raise WeakPassword("few_characters")
    if username and username.lower() in password.lower():
        raise WeakPassword("username")
    # zxcvbn's word lists cost the process ~12 MB: loaded at the first password set
    # (~20 ms), not by every daemon that never sets one (issue 18)
    from zxcvbn import zxcvbn

    personal = _words([username, display_name]) | (site_words(site) if site else set())
    estimate = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=[*personal, *SWEDISH_WORDS, *_YEARS])
    if estimate["score"] < MIN_SCORE:
        raise WeakPassword(_reason(estimate["sequence"], personal))


def _reason(sequence: list[dict[str, Any]], personal: set[str]) -> str:
    """Why zxcvbn found it weak: a personal or site word, a common password, or else
    patterns and common words."""
    words = [m for m in sequence if m.get("pattern") == "dictionary"]
    if any(m.get("matched_word") in personal for m in words):
        return "site_words"
    if any(m.get("dictionary_name") == "passwords" for m in words):
        return "common"
    return "guessable"
