"""The Rasa YAML reader: annotations with brackets, synonyms, lookups, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.data import DataError, load_data, parse_annotated, read_file

HERE = Path(__file__).resolve().parent
TRAINING_DATA = HERE.parents[1] / "config" / "nlu"
HELDOUT = HERE / "data"


def test_hostlist_inside_annotation_is_kept_whole() -> None:
    text, spans = parse_annotated("[drain](action) [c[001-010]](node) now")
    assert text == "drain c[001-010] now"
    assert spans == [("action", 0, 5, None), ("node", 6, 16, None)]
    assert text[6:16] == "c[001-010]"


def test_unannotated_brackets_stay_text() -> None:
    text, spans = parse_annotated("drain c[001-003] and [gpu[05-08]](node), x[1]")
    assert text == "drain c[001-003] and gpu[05-08], x[1]"
    assert spans == [("node", 21, 31, None)]


def test_annotation_forms() -> None:
    text, spans = parse_annotated(
        '[undrain](action:resume) [wn0189]{"entity": "node"} '
        '[gmx]{"entity": "software", "value": "gromacs"} [x][{"entity": "a"}]'
    )
    assert text == "undrain wn0189 gmx x"
    assert spans == [
        ("action", 0, 7, "resume"),
        ("node", 8, 14, None),
        ("software", 15, 18, "gromacs"),
        ("a", 19, 20, None),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[x]{not json}", "bad entity annotation"),
        ('[x]{"value": "y"}', 'needs an "entity" name'),
        ("[](node)", "empty entity text"),
        ("[x](bad name)", "bad entity name"),
        ("[[a](b)](c)", "nested"),
        ("[x](node", "unterminated"),
    ],
)
def test_bad_annotations(line: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_annotated(line, "f.yml:3")


def write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_file_collects_examples_synonyms_lookups_and_regexes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
version: "3.1"
nlu:
- intent: node_action
  examples: |
    - [drain](action) [c[001-002]](node)
    - [undrain]{"entity": "action", "value": "resume"} [gpu01](node)
- synonym: resume
  examples: |
    - return to service
- lookup: software
  examples: |
    - gromacs
    - lammps
- regex: request_id
  examples: |
    - REQ-\\d+
- intent: greet
  examples:
    - hi
    - text: hello
""",
    )
    data = read_file(path)
    assert [(e.text, e.intent) for e in data.examples] == [
        ("drain c[001-002]", "node_action"),
        ("undrain gpu01", "node_action"),
        ("hi", "greet"),
        ("hello", "greet"),
    ]
    first = data.examples[0]
    assert [(s.entity, first.text[s.start : s.end]) for s in first.entities] == [
        ("action", "drain"),
        ("node", "c[001-002]"),
    ]
    assert first.source == f"{path}:5"
    assert data.synonyms == {"undrain": "resume", "return to service": "resume"}
    assert data.lookups == {"software": ["gromacs", "lammps"]}
    assert data.regexes == {"request_id": ["REQ-\\d+"]}


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu:\n- intent: greet\n  examples: |\n    - hi\n  bad: [unclosed\n")
    with pytest.raises(DataError) as err:
        read_file(path)
    assert str(err.value).startswith(f"{path}:")
    assert ":0:" not in str(err.value)


def test_example_without_dash_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n")
    with pytest.raises(DataError, match=rf"{path}:5: example must start with '- '"):
        read_file(path)


def test_bad_annotation_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu:\n- intent: greet\n  examples: |\n    - hi\n    - [x]{oops}\n")
    with pytest.raises(DataError, match=rf"{path}:5: bad entity annotation"):
        read_file(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("nlu: 3\n", "'nlu' must be a list"),
        ("nlu:\n- 3\n", "must be a mapping"),
        ("nlu:\n- intent: a\n  synonym: b\n  examples: '- x'\n", "exactly one of"),
        ("nlu:\n- intent: greet\n", "has no 'examples'"),
        ("nlu:\n- regex: r\n  examples: |\n    - (unclosed\n", "bad regex"),
        ("- just a list\n", "top level must be a mapping"),
    ],
)
def test_structure_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_file(write(tmp_path, body))


def test_files_without_nlu_key_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "embedded:\n  intent:\n    c: 3\n", "config.yml")
    write(tmp_path, "nlu:\n- intent: greet\n  examples: |\n    - hi\n", "sub.yaml")
    assert [e.text for e in load_data(tmp_path).examples] == ["hi"]


def test_missing_path_and_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_data(tmp_path / "missing")
    with pytest.raises(DataError, match="no intent examples"):
        load_data(tmp_path)


SCHEMA_INTENTS = {
    "request_quota",
    "request_software",
    "provision_vm",
    "node_action",
    "check_status",
    "list_resources",
    "release_resource",
    "extend_loan",
    "request_loan",
    "request_account",
    "extend_walltime",
    "store_credential",
    "approve_request",
    "deny_request",
    "stats",
    "help",
    "greet",
}


def test_training_data_covers_every_intent_with_40_examples() -> None:
    data = load_data(TRAINING_DATA)
    counts = {intent: 0 for intent in SCHEMA_INTENTS | {"out_of_scope"}}
    for example in data.examples:
        assert example.intent in counts, example.source
        counts[example.intent] += 1
    assert min(counts.values()) >= 40, counts
    assert len(data.lookups["software"]) >= 300
    assert data.synonyms["undrain"] == "resume"


def test_training_annotations_are_clean_spans() -> None:
    for path in (TRAINING_DATA, HELDOUT):
        for example in load_data(path).examples:
            for span in example.entities:
                piece = example.text[span.start : span.end]
                assert piece == piece.strip() and piece, example.source
                assert piece[-1] not in ",.?!", example.source


INDEPENDENT = HELDOUT / "heldout_independent.yml"
KNOWN_DUPLICATES = HELDOUT / "heldout_independent_training_duplicates.txt"


def test_heldout_is_disjoint_from_training() -> None:
    training = {e.text.lower() for e in load_data(TRAINING_DATA).examples}
    for name in ("heldout.yml", "heldout_chat.yml"):
        overlap = [e.text for e in load_data(HELDOUT / name).examples if e.text.lower() in training]
        assert overlap == [], name


@pytest.mark.parametrize(
    ("blind", "duplicates"),
    [
        (INDEPENDENT, KNOWN_DUPLICATES),
        (HELDOUT / "heldout_blind2.yml", HELDOUT / "heldout_blind2_training_duplicates.txt"),
    ],
)
def test_blind_sets_gain_no_training_duplicates(blind: Path, duplicates: Path) -> None:
    """The blind files were written without reading the training data; some short common
    messages ("thanks", "lgtm", "5TB") coincide with training examples. Training data may not
    add more (no copying from a test set)."""
    known = {
        line.strip()
        for line in duplicates.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    training = {e.text.lower() for e in load_data(TRAINING_DATA).examples}
    overlap = {e.text.lower() for e in load_data(blind).examples} & training
    assert sorted(overlap - known) == []


def test_gazetteer_marks_phrases_and_regex_tokens() -> None:
    from nlu.gazetteer import Gazetteer
    from nlu.tokens import tokenize

    gaz = Gazetteer.from_data(
        {"software": ["quantum-espresso", "gromacs"]},
        {"quantum espresso": "quantum-espresso"},
        {"request_id": [r"REQ-\d+"]},
    )
    tokens = tokenize("install Quantum Espresso and gromacs for REQ-12 now")
    assert gaz.tag(tokens) == [
        "-",
        "B-software",
        "I-software",
        "-",
        "B-software",
        "-",
        "B-re:request_id",
        "-",
    ]
    again = Gazetteer.from_json(gaz.to_json())
    assert again.tag(tokens) == gaz.tag(tokens)
