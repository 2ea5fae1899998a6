"""IFEval's 25 verifiable instruction types, with IFEval's published semantics.

Zhou et al. 2023, "Instruction-Following Evaluation for Large Language Models": an eval row
is {"key", "prompt", "instruction_id_list": ["punctuation:no_comma", ...], "kwargs": [{...}]}
and each instruction is a deterministic test of the response. Written here from IFEval's
description of each rule; where IFEval leans on a library that needs downloaded data, the
approximation is named:

    words        runs of word characters (\\w+), so "cross-functional" and "don't" are TWO
                 words each, as IFEval's regexp tokenizer counts them
    capital      words for capital_word_frequency follow nltk's word_tokenize: a hyphenated
                 word is ONE word, "DON'T" is "DO" + "N'T"
    sentences    IFEval uses nltk's pre-trained Punkt model (a data download). Here: a
                 sentence ends at ".", "?" or "!" followed by a space or the end, except
                 after a title ("Dr.", "Mrs.") and, unless a usual sentence opener follows,
                 after an abbreviation ("p.m.", "e.g.", "etc."), an initial or an ellipsis;
                 "$1.10" never splits and a line break alone does not end a sentence
    language     langdetect (IFEval's own choice), seeded so the answer never varies; text
                 with no detectable language counts as followed, as in IFEval
Keyword, frequency and section-splitter arguments are regular expressions in IFEval; a
pattern that does not compile is matched as plain text instead of crashing.
"""

from __future__ import annotations

import json
import re
from collections import Counter

RELATIONS = ("less than", "at least")
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


# --- text measures ------------------------------------------------------------------------

def count_words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def word_tokens(text: str) -> list[str]:
    """nltk word_tokenize-like: hyphenated words stay whole, contractions split off."""
    tokens = []
    for tok in re.findall(r"[\w'’]+(?:[-.][\w'’]+)*\.?|[^\w\s]", text):
        m = re.fullmatch(r"(?i)(.+?)(n['’]t|['’](?:s|re|ve|ll|d|m))", tok)
        tokens += [m.group(1), m.group(2)] if m else [tok]
    return tokens


TITLES = {"dr", "mr", "mrs", "ms", "prof", "st", "mt", "capt", "lt", "col", "gen", "sgt", "rev", "sen", "gov",
          "rep", "hon", "messrs", "mme", "fr"}
ABBREVIATIONS = {"etc", "vs", "inc", "ltd", "co", "corp", "jr", "sr", "no", "fig", "approx", "dept", "est",
                 "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "ave",
                 "blvd", "al", "cf", "ca", "vol", "pp", "ed", "eds", "min", "max"}
OPENERS = {"the", "this", "that", "these", "those", "it", "he", "she", "we", "they", "i", "you", "but", "and",
           "however", "in", "on", "at", "a", "an", "if", "when", "there", "then", "so", "our", "their", "his",
           "her", "my", "its", "after", "before", "as", "for", "also", "meanwhile", "while", "what", "why",
           "how", "yes", "no", "now", "today", "finally", "first", "next", "later", "since", "because"}


def _ends_sentence(token: str, following: str | None) -> bool:
    core = re.sub(r"[\"'”’)\]}*]+$", "", token)
    if core.endswith(("?", "!")):
        return True
    if not core.endswith("."):
        return False
    if following is None:
        return True
    opener = re.sub(r"^[\"'“‘(\[*]+", "", following)
    starts = opener[:1].isupper() and re.sub(r"\W+$", "", opener).lower() in OPENERS
    word = re.sub(r"^[\"'“‘(\[]+", "", core)[:-1].lower()
    if word in TITLES:
        return False  # "Dr. Smith": a title never ends a sentence
    if (word.endswith(".") or word in ABBREVIATIONS or re.fullmatch(r"[^\W\d_]", word)
            or re.fullmatch(r"(?:[^\W\d_]\.)+[^\W\d_]", word)):
        return starts  # "...", "etc.", "J.", "p.m." end a sentence only before an opener
    return True


def split_sentences(text: str) -> list[str]:
    tokens = list(re.finditer(r"\S+", text))
    out, start = [], 0
    for i, m in enumerate(tokens):
        nxt = tokens[i + 1].group() if i + 1 < len(tokens) else None
        if _ends_sentence(m.group(), nxt):
            out.append(text[start:m.end()].strip())
            start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def _regex(pattern: str, wrap: str = "{}") -> re.Pattern:
    try:
        return re.compile(wrap.format(pattern), re.I)
    except re.error:
        return re.compile(wrap.format(re.escape(pattern)), re.I)


def _compare(count: int, relation: str, n: int) -> bool:
    return count < n if relation == "less than" else count >= n


def detect_language(text: str) -> str | None:
    """ISO 639-1 code by langdetect, or None where it finds no language features."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # langdetect samples; a fixed seed gives one answer per text
    try:
        return detect(text)
    except LangDetectException:
        return None


# --- the 25 instruction types: f(response, **kwargs) -> bool -------------------------------

def keywords_existence(text, keywords):
    return all(_regex(k).search(text) for k in keywords)  # substring, any case: "cats" has "cat"


def keywords_frequency(text, keyword, frequency, relation):
    return _compare(len(_regex(keyword.strip()).findall(text)), relation, frequency)


def keywords_forbidden_words(text, forbidden_words):
    return not any(_regex(w, r"\b{}\b").search(text) for w in forbidden_words)  # whole words


def keywords_letter_frequency(text, letter, let_frequency, let_relation):
    # IFEval's rows also ask for "#" or "!"; its code then draws a random a-z letter instead,
    # so its own verdict on such a row is not reproducible: the character is counted as written
    return _compare(Counter(text.lower())[letter.strip().lower()], let_relation, let_frequency)


def language_response_language(text, language):
    found = detect_language(text)
    return found is None or found == language


def number_sentences(text, num_sentences, relation):
    return _compare(count_sentences(text), relation, num_sentences)


def number_paragraphs(text, num_paragraphs):
    parts = re.split(r"\s?\*\*\*\s?", text)
    count = len(parts)
    for i, part in enumerate(parts):
        if not part.strip():
            if 0 < i < len(parts) - 1:
                return False  # an empty paragraph between two dividers
            count -= 1
    return count == num_paragraphs


def number_words(text, num_words, relation):
    return _compare(count_words(text), relation, num_words)


def nth_paragraph_first_word(text, num_paragraphs, nth_paragraph, first_word):
    parts = text.split("\n\n")  # IFEval indexes the raw split, empty pieces included
    count = sum(1 for p in parts if p.strip())
    if not 0 < nth_paragraph <= count or not parts[nth_paragraph - 1].strip():
        return False
    word = parts[nth_paragraph - 1].split()[0].lstrip("'").lstrip('"')
    word = re.split(r"[.,?!'\"]", word, maxsplit=1)[0].lower()
    return count == num_paragraphs and word == first_word.lower()


def number_placeholders(text, num_placeholders):
    return len(re.findall(r"\[.*?\]", text)) >= num_placeholders


def postscript(text, postscript_marker):
    marker = postscript_marker.strip()
    pattern = {"P.P.S": r"\s*p\.\s?p\.\s?s.*$", "P.S.": r"\s*p\.\s?s\..*$"}.get(marker)
    try:
        found = re.compile(pattern or r"\s*" + marker.lower() + r".*$", re.M)
    except re.error:
        found = re.compile(r"\s*" + re.escape(marker.lower()) + r".*$", re.M)
    return bool(found.search(text.lower()))  # anywhere in the text, any case


def number_bullet_lists(text, num_bullets):
    stars = re.findall(r"^\s*\*[^\*].*$", text, re.M)  # "* x" and "*x"; not "**bold**"
    dashes = re.findall(r"^\s*-.*$", text, re.M)
    return len(stars) + len(dashes) == num_bullets


def constrained_response(text):
    return any(option in text.strip() for option in CONSTRAINED_OPTIONS)


def number_highlighted_sections(text, num_highlights):
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h[2:-2].strip()]
    return len(single) + len(double) >= num_highlights


def multiple_sections(text, section_spliter, num_sections):
    splitter = section_spliter.strip()
    try:
        pattern = re.compile(r"\s?" + splitter + r"\s?\d+\s?")
    except re.error:
        pattern = re.compile(r"\s?" + re.escape(splitter) + r"\s?\d+\s?")
    return len(pattern.split(text)) - 1 >= num_sections  # "Section 2" anywhere starts one


def json_format(text):
    body = text.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):  # one after the other, as IFEval does
        body = body.removeprefix(fence)
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def title(text):
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", text))


def two_responses(text):
    parts = text.split("******")
    kept = []
    for i, part in enumerate(parts):
        if part.strip():
            kept.append(part.strip())
        elif 0 < i < len(parts) - 1:
            return False
    return len(kept) == 2 and kept[0] != kept[1]


def repeat_prompt(text, prompt_to_repeat):
    return text.strip().lower().startswith(prompt_to_repeat.strip().lower())


def end_checker(text, end_phrase):
    return text.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def quotation(text):
    body = text.strip()
    return len(body) > 1 and body[0] == '"' and body[-1] == '"'


def capital_word_frequency(text, capital_frequency, capital_relation):
    return _compare(sum(1 for t in word_tokens(text) if t.isupper()), capital_relation, capital_frequency)


def english_capital(text):
    return text.isupper() and detect_language(text) in ("en", None)


def english_lowercase(text):
    return text.islower() and detect_language(text) in ("en", None)


def no_comma(text):
    return "," not in text


# IFEval id -> checker; its keyword arguments are checked by the rules in checks.ARG_RULES
TYPES = {
    "keywords:existence": keywords_existence,
    "keywords:frequency": keywords_frequency,
    "keywords:forbidden_words": keywords_forbidden_words,
    "keywords:letter_frequency": keywords_letter_frequency,
    "language:response_language": language_response_language,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:number_words": number_words,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "detectable_content:number_placeholders": number_placeholders,
    "detectable_content:postscript": postscript,
    "detectable_format:number_bullet_lists": number_bullet_lists,
    "detectable_format:constrained_response": constrained_response,
    "detectable_format:number_highlighted_sections": number_highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:json_format": json_format,
    "detectable_format:title": title,
    "combination:two_responses": two_responses,
    "combination:repeat_prompt": repeat_prompt,
    "startend:end_checker": end_checker,
    "startend:quotation": quotation,
    "change_case:capital_word_frequency": capital_word_frequency,
    "change_case:english_capital": english_capital,
    "change_case:english_lowercase": english_lowercase,
    "punctuation:no_comma": no_comma,
}
