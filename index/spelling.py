"""British and American spellings of one English word folded to a single form before stemming.

Applied to every English word at index time and at query time (inside `analysis.stem`), so
"organization" finds "organisation", "center" finds "centre" and "pediatric" finds
"paediatric". The shared form is internal: readers never see it.

The shared form is the American one, so Porter2 (written for American English) conflates
words as designed. Rules, in order:
- explicit word families (-our/-or, -re/-er, -ogue/-og, -ence/-ense, doubled l, ae/oe, ...);
- -ise/-yse/-isation endings become -ize/-yze/-ization, except in words where -ise is the
  only spelling (advise, exercise, promise, surprise, -wise, ...).
"""

from __future__ import annotations

# Root spelled the British way -> the shared form. A word matches a root when it starts with
# it; the rest of the word (plural, tense, derivation) is kept: "colours" -> "colors",
# "neighbourhood" -> "neighborhood".
_ROOTS: dict[str, str] = {}


def _family(shared: str, *british: str) -> None:
    for root in british:
        _ROOTS[root] = shared


# -our / -or
for _w in ("color", "behavior", "favor", "honor", "labor", "neighbor", "harbor", "humor",
           "rumor", "vapor", "flavor", "savor", "endeavor", "armor", "odor", "vigor", "rigor",
           "tumor", "parlor", "clamor", "fervor", "candor", "valor", "splendor", "savior"):
    _family(_w, _w[:-2] + "our")
# -re / -er: exact forms only ("liter" must not touch "literature")
_EXACT: dict[str, str] = {}
for _brit, _amer in (("centre", "center"), ("theatre", "theater"), ("metre", "meter"),
                     ("litre", "liter"), ("fibre", "fiber"), ("calibre", "caliber"),
                     ("meagre", "meager"), ("sombre", "somber"), ("spectre", "specter"),
                     ("lustre", "luster"), ("sabre", "saber"), ("kilometre", "kilometer"),
                     ("centimetre", "centimeter"), ("millimetre", "millimeter"),
                     ("manoeuvre", "maneuver"), ("goitre", "goiter")):
    base = _brit[:-2]
    _EXACT.update({_brit: _amer, _brit + "s": _amer + "s", base + "red": _amer + "ed",
                   base + "ring": _amer + "ing"})
# -e endings where only the bare word and its plural differ
for _brit, _amer in (("programme", "program"), ("catalogue", "catalog"), ("dialogue", "dialog"),
                     ("analogue", "analog")):
    _EXACT.update({_brit: _amer, _brit + "s": _amer + "s"})
_EXACT.update({"catalogued": "cataloged", "practising": "practicing"})
# other families
for _brit, _amer in (
    ("defence", "defense"), ("offence", "offense"),
    ("licence", "license"), ("pretence", "pretense"), ("practise", "practice"),
    ("ageing", "aging"), ("grey", "gray"), ("judgement", "judgment"),
    ("acknowledgement", "acknowledgment"), ("aluminium", "aluminum"), ("enrolment", "enrollment"),
    ("enrol", "enroll"), ("fulfil", "fulfill"), ("skilful", "skillful"), ("wilful", "willful"),
    ("instalment", "installment"), ("mould", "mold"), ("plough", "plow"), ("sceptic", "skeptic"),
    ("storey", "story"), ("draught", "draft"), ("cosy", "cozy"), ("jewellery", "jewelry"),
    ("paediatric", "pediatric"), ("orthopaedic", "orthopedic"), ("encyclopaedia", "encyclopedia"),
    ("anaemi", "anemi"), ("anaesthe", "anesthe"), ("haemo", "hemo"), ("haema", "hema"),
    ("haemorrh", "hemorrh"), ("leukaemi", "leukemi"), ("gynaecolog", "gynecolog"),
    ("oestrogen", "estrogen"), ("oesophag", "esophag"), ("foetus", "fetus"), ("foetal", "fetal"),
    ("diarrhoe", "diarrhe"), ("coeliac", "celiac"), ("paedophil", "pedophil"),
):
    _family(_amer, _brit)
# words where a British root above is followed by letters that both spellings share
for _w in ("enrolled", "enrolling", "fulfilled", "fulfilling"):
    _ROOTS[_w] = _w
# a doubled l before -ed/-ing/-er in British English ("travelled", "modelling", "counsellor")
for _root in ("travel", "model", "label", "cancel", "counsel", "signal", "fuel", "level",
              "channel", "tunnel", "marshal", "jewel", "quarrel", "rival", "shovel", "panel",
              "dial", "duel", "total", "equal", "funnel", "pedal", "label", "libel", "tranquil",
              "worship", "kidnap"):
    _dbl = _root + _root[-1]
    for _end in ("ed", "ing", "er", "ers", "or", "ors"):
        _ROOTS[_dbl + _end] = _root + _end

# words ending in -ise that have no -ize spelling (all other -ise/-isation words do)
_ISE_KEEP = frozenset(
    """advertise advise apprise arise chastise circumcise comprise compromise concise cruise
    bruise demise despise devise disguise enterprise excise exercise expertise franchise
    improvise incise merchandise precise premise promise raise praise appraise revise rise
    sunrise surmise surprise supervise televise treatise paradise mortise valise reprise
    porpoise tortoise turquoise chemise cerise remise noise poise guise anise prise""".split()
)
# British endings -> American, longest first; the part before must leave "<root>ise" or
# "<root>yse" that is a spelling variant
_ISE_ENDINGS = (
    ("isations", "izations", "ise"), ("isation", "ization", "ise"), ("isers", "izers", "ise"),
    ("iser", "izer", "ise"), ("ising", "izing", "ise"), ("ises", "izes", "ise"),
    ("ised", "ized", "ise"), ("ise", "ize", "ise"),
    ("ysing", "yzing", "yse"), ("ysed", "yzed", "yse"), ("yser", "yzer", "yse"), ("yse", "yze", "yse"),
)
_MAX_ROOT = max(len(r) for r in _ROOTS)


def shared_spelling(word: str) -> str:
    """The one spelling used for matching a folded, lowercase English word.

    Words that are not British or American variants come back unchanged.
    """
    if len(word) < 4:
        return word
    exact = _EXACT.get(word)
    if exact is not None:
        return exact
    for n in range(min(len(word), _MAX_ROOT), 3, -1):
        shared = _ROOTS.get(word[:n])
        if shared is not None:
            return shared + word[n:]
    if "is" in word or "ys" in word:
        for end, american, base in _ISE_ENDINGS:
            if word.endswith(end):
                root = word[: -len(end)]
                if len(root) < 3 or (root + base) in _ISE_KEEP or root.endswith("w"):
                    return word
                return root + american
    return word
