"""Retrieve-then-reason with verified evidence (after ALR², Li et al., 2024).

Stage 1 asks the model for the facts that support an answer, as quotes with their source id;
every quote is located in its source (`agentrun.text.quotes.locate`: exact, then Unicode NFKC /
case / whitespace normalized, then fuzzy above `fuzzy_threshold`, always mapped back to the
original text), so a kept fact is `document[start:end]`, verbatim. A quote that cannot be found
is re-asked once, naming it; it counts as `recovered` only when a new quote of the re-ask, found
in the source, restates it (shares at least half of its content words, misspellings allowed):
another new sentence is kept as a fact but recovers nothing. A quote still not found is dropped
and counted. A near match whose negation differs from the source ("was not" for "was") is not
found either: it is re-asked like one, and if the re-ask does not replace it, the source text it
matched is kept as a fact, counted as `paraphrased`. Stage 2 answers from the verified facts only
(`reason_over="facts+context"` adds the text read) and cites them by id. When no fact could be
verified the run abstains (`answer=None`) without a second call and says why (how many quotes
the first extraction proposed, and that the re-ask found none either).

- The answer is checked too (`evidence.ground_answer`): every word of it but function words
  (articles, prepositions, pronouns...; never a negation) must occur as a whole word in the
  verified facts it cites, compared as `agentrun.text.quotes.words` reads them (NFKC, case
  folded, punctuation dropped, "n't" as "not", "1,890" as 1890); a bare yes or no needs citations
  only. An answer citing no fact or a fact id that does not exist, or holding a word its facts do
  not, is not kept: `answer=None` and `reason` names the words or ids. With `facts+context` the
  text read helps the reasoning but cannot support the answer. With plain-text prompting (no
  ids) it is checked against all verified facts. The `unverified` and `direct` baselines are
  not checked.

- Where quotes are checked: against their chunk first, then against the whole document. A
  quote that runs across a chunk boundary (or that the model recalled from another part of the
  document) is therefore kept with its true document offsets, flagged `spans_chunks`.
- Long contexts: the document is split into chunks in the shared store. When it is longer than
  the model's window, the `top_k` chunks most similar to the question are read if the store has
  a search index; a store without one cannot rank, so every chunk is read in source order (the
  result's `retrieval` says which happened). Extraction runs per chunk, concurrently up to
  `concurrency`, then one reasoning step.
- Prompting: `structured` (JSON schema output; the default for hosted models), `quotes` (plain
  text, one quote per line; the default for the embedded SmolLM2, which degrades under a JSON
  grammar), or `answer-span` (the model names the answer words in each chunk and the supporting
  sentence is located around them; words not in the chunk count as a quote not found). With
  plain-text prompting the reasoner is not asked for ids: the facts that hold its answer's words
  are cited, and `citations_inferred` says so.
- Models that cannot copy (`map_paraphrases`, on by default for local/smollm2 only): a quote
  still not found after its re-ask is mapped to the sentence of its chunk it restates
  (`agentrun.text.quotes.match_sentence`, by shared rare words) and that sentence, verbatim
  from the source, is kept instead; such quotes still count as not found in the hallucination
  rate and are counted apart as `paraphrased`.
- `method="unverified"` is the two-stage prompting baseline (raw quotes go to the reasoner; they
  are still located, only to measure them) and `method="direct"` answers from the text in one
  call; both exist so that one eval compares them on the same prompts.
- Bad input: an empty context or question is a `UsageError`; a question the context does not
  answer gives `answer=None` with the reason; a file is read as UTF-8, else in the encoding
  passed or declared in it (byte-order mark, `coding:`/`charset=`/`encoding=`), else an
  `InputFileError` naming the file.
"""

from agentrun.graphs.retrieve_then_reason.graph import (
    Context,
    aresume,
    arun,
    build_graph,
    resume,
    run,
)
from agentrun.graphs.retrieve_then_reason.models import (
    Extraction,
    ExtractionStats,
    Fact,
    Method,
    Prompting,
    Proposal,
    ReasonedAnswer,
    RetrieveThenReasonConfig,
    RetrieveThenReasonResult,
)
from agentrun.text.files import read_text_file as read_source

__all__ = [
    "Context",
    "Extraction",
    "ExtractionStats",
    "Fact",
    "Method",
    "Prompting",
    "Proposal",
    "ReasonedAnswer",
    "RetrieveThenReasonConfig",
    "RetrieveThenReasonResult",
    "aresume",
    "arun",
    "build_graph",
    "read_source",
    "resume",
    "run",
]
