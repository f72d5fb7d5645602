"""Tables anywhere bbq takes input: a CSV or Parquet upload with its template is rendered by ingest, refused
rows are refused lines naming the column, and the results come back as results.parquet in input order with
the input's own columns beside each output."""

import io
import json
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq

from bbq.core.model import naming
from bbq.core.model.config import SmallWork
from bbq.core.model.files import FileStatus
from bbq.core.settling import structured
from bbq.core.settling.results_table import RESULTS_TABLE
from bbq_local.fakes import FakeObjects
from tests.core.helpers import BUCKET, CONFIG, NOVA, World
from tests.core.test_results import drive, joined

TEMPLATE = b"---\nmax_tokens: 100\nid_column: review_id\n---\nHow does {{ author }} feel? {{ review }}\n"
ROWS = 300


def reviews_csv(rows: int = ROWS, bad_row: int | None = None) -> bytes:
    lines = ["review_id,author,review,stars"]
    for i in range(1, rows + 1):
        review_id = "not an id!" if i == bad_row else f"rv{i:04d}"
        lines.append(f'{review_id},author {i},"Good, and ""quoted"" {i}",{i % 5}')
    return ("\n".join(lines) + "\n").encode()


def world() -> World:
    return World(config=replace(CONFIG, small_work=SmallWork.ON_DEMAND), objects=FakeObjects(chunk=4096), tables=True)


def table_of(w: World, file_id: str) -> pa.Table:
    bucket, prefix = naming.split_uri(w.store.files[file_id].output_uri)
    return pq.read_table(io.BytesIO(w.objects.files[bucket, prefix + RESULTS_TABLE]))


def test_a_csv_with_its_folders_template_runs_and_comes_back_as_a_table_in_input_order() -> None:
    w = world()
    w.objects.files[BUCKET, "to-process/reviews/_template.txt"] = TEMPLATE
    outcome = w.upload("to-process/reviews/may.csv", reviews_csv(bad_row=7))
    assert outcome.status == FileStatus.QUEUED and outcome.rejected_lines == 1
    file = w.store.files[outcome.file_id or ""]
    assert file.record_count == ROWS - 1 and file.rows_uri
    report = json.loads(w.objects.files[BUCKET, naming.error_report_key("to-process/reviews/may.csv")])
    assert report["rejectedLines"][0]["line"] == 7 and "id column 'review_id'" in report["rejectedLines"][0]["reason"]
    staged = next(iter(v for (b, k), v in w.objects.files.items() if k.startswith("staged/" + file.file_id)))
    first = json.loads(staged.splitlines()[0])
    assert set(first) == {"recordId", "modelInput"}  # the columns never go to Bedrock
    assert first["modelInput"]["messages"][0]["content"][0]["text"] == 'How does author 1 feel? Good, and "quoted" 1'

    drive(w, None)
    assert w.store.files[file.file_id].status == FileStatus.COMPLETED
    rows = joined(w, file.file_id, "results.jsonl")
    assert rows[0]["recordId"] == "rv0001" and rows[0]["columns"] == {
        "author": "author 1", "review": 'Good, and "quoted" 1', "stars": "1"
    }  # fmt: skip
    table = table_of(w, file.file_id).to_pylist()
    assert [r["line"] for r in table] == list(range(1, ROWS + 1))  # the refused row too, in its place
    assert table[6]["recordId"] is None or table[6]["errorMessage"]
    assert [r["recordId"] for r in table if r["line"] != 7] == [f"rv{i:04d}" for i in range(1, ROWS + 1) if i != 7]
    assert all(r["text"] and r["author"] == f"author {r['line']}" for r in table if r["line"] != 7)
    assert list(table_of(w, file.file_id).schema.names[:5]) == ["line", "recordId", "author", "review", "stars"]


def test_a_parquet_upload_names_its_template_in_metadata() -> None:
    w = world()
    w.objects.files[BUCKET, "templates/embed.txt"] = b"{{ title }}: {{ body }}"
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"title": [f"t{i}" for i in range(150)], "body": ["text"] * 150, "n": list(range(150))}), sink
    )
    outcome = w.upload("to-process/docs.parquet", sink.getvalue(), {"bbq-template": "embed.txt"})
    assert outcome.status == FileStatus.QUEUED, w.store.files[outcome.file_id or ""].message
    drive(w, None)
    table = table_of(w, outcome.file_id or "").to_pylist()
    assert [r["n"] for r in table] == list(range(150)) and [r["recordId"] for r in table] == [
        str(i) for i in range(1, 151)
    ]


def test_a_table_without_a_template_is_refused_saying_where_to_put_one() -> None:
    w = world()
    outcome = w.upload("to-process/lonely.csv", reviews_csv(10))
    file = w.store.files[outcome.file_id or ""]
    assert file.status == FileStatus.REJECTED
    assert "to-process/_template.txt" in file.message and "bbq-template" in file.message
    w.objects.files[BUCKET, "templates/broken.txt"] = b"{{ unclosed "
    outcome = w.upload("to-process/x.csv", reviews_csv(10), {"bbq-template": "broken.txt"})
    assert "not valid Jinja2" in w.store.files[outcome.file_id or ""].message


def test_a_template_with_a_wrong_option_is_refused_whole() -> None:
    w = world()
    w.objects.files[BUCKET, "templates/t.txt"] = b"---\nmax_tokens: 0\n---\n{{ review }}"
    outcome = w.upload("to-process/x.csv", reviews_csv(10), {"bbq-template": "t.txt", "bbq-model": NOVA})
    file = w.store.files[outcome.file_id or ""]
    assert file.status == FileStatus.REJECTED and "max_tokens must be a positive integer" in file.message


def test_structured_output_is_read_or_says_why_not() -> None:
    schema = {"type": "object", "properties": {"mood": {"type": "string"}, "score": {"type": "integer"}},
              "required": ["mood"]}  # fmt: skip
    assert structured.parse('```json\n{"mood": "glad", "score": 4}\n```', schema) == (
        {"mood": "glad", "score": 4},
        None,
    )
    assert structured.parse('Sure! {"mood": "sad"} Hope it helps.', schema) == ({"mood": "sad", "score": None}, None)
    assert (structured.parse("I cannot tell.", schema)[1] or "").startswith("the text is not JSON")
    assert "required 'mood' missing" in (structured.parse('{"score": 1}', schema)[1] or "")
    assert "the schema says integer" in (structured.parse('{"mood": "x", "score": "high"}', schema)[1] or "")


def test_a_csv_that_stops_being_utf8_half_way_is_refused_whole_and_leaves_no_staged_data() -> None:
    w = world()
    w.objects.files[BUCKET, "to-process/_template.txt"] = TEMPLATE
    outcome = w.upload("to-process/broken.csv", reviews_csv(2_000) + b"rv9999,author \xff,bad,1\n")
    file = w.store.files[outcome.file_id or ""]
    assert file.status == FileStatus.REJECTED and "not UTF-8" in file.message
    assert [k for (_, k) in w.objects.files if k.startswith(naming.STAGED_PREFIX)] == [], "parts closed before go"
