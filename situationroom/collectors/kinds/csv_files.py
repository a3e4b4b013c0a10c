"""The `csv` collector kind: a local file, a URL, or every new file of a watched folder, rows mapped to samples."""

from __future__ import annotations

import asyncio
import codecs
import csv
import fnmatch
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import Field, field_validator, model_validator

from situationroom.collectors import base
from situationroom.collectors.base import CollectError, CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.http import USER_AGENT, check_http_url, encoded_too, fetch
from situationroom.collectors.mapping import Mapping
from situationroom.collectors.registry import register
from situationroom.durations import Duration
from situationroom.samples import Rejection

AUTO = ("utf-8-sig", "cp949")
"""`encoding: auto` tries these in turn: UTF-8 (with or without BOM), then the Korean Windows code page."""


class Undecodable(Exception):
    pass


@dataclass
class Table:
    """The rows of one CSV text as records, each with the line it ends on, and the rows that are malformed."""

    records: list[dict[str, Any]]
    lines: list[int]
    bad: list[Rejection]


def decode(data: bytes, encoding: str) -> str:
    for enc in AUTO if encoding == "auto" else (encoding,):
        try:
            return data.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
    tried = " or ".join(AUTO) if encoding == "auto" else encoding
    raise Undecodable(f"cannot decode as {tried} (byte {last.start}: {last.reason}); set params.encoding "
                      f"(Korean public files are often cp949)")


class CsvParams(base.Params):
    file: str | None = None
    """A local file; relative paths are from the site folder."""
    url: str | None = None
    watch: str | None = None
    """A folder whose new files are read once each."""
    pattern: str = "*.csv"
    encoding: str = "utf-8-sig"
    """Any Python codec (cp949/euc-kr for Korean public files), or `auto`: UTF-8, else cp949."""
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    header: bool = True
    """The first row (after skip_rows) names the columns."""
    columns: list[str] | None = None
    """Column names when there is no header row (or to replace it)."""
    skip_rows: int = Field(default=0, ge=0, le=1000)
    """Lines before the header (titles, notes)."""
    settle: Duration = 2.0
    """watch: a file modified less than this long ago may still be being written; it waits for the next run."""
    state_file: str | None = None
    max_files: int = Field(default=100, ge=1, le=100_000)
    """watch: at most this many files a run (oldest first), so a backlog of thousands is read over
    several runs instead of timing out every run."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers for url."""
    timeout: Duration = 30.0
    map: Mapping

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return check_http_url(v) if v is not None else v

    @field_validator("encoding")
    @classmethod
    def _codec(cls, v: str) -> str:
        if v != "auto":
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError("unknown encoding (e.g. utf-8, utf-8-sig, cp949, euc-kr, or auto)") from None
        return v

    @model_validator(mode="after")
    def _source(self) -> Csv.Params:
        if sum(x is not None for x in (self.file, self.url, self.watch)) != 1:
            raise ValueError("give exactly one of file, url or watch (a folder)")
        if not self.header and not self.columns:
            raise ValueError("without a header row, give columns")
        if self.state_file is not None and self.watch is None:
            raise ValueError("state_file goes with watch")
        if "max_files" in self.model_fields_set and self.watch is None:
            raise ValueError("max_files goes with watch")
        return self


@register
class Csv(CollectorKind[CsvParams]):
    """Reads CSV rows (a header row names the columns) and maps them with `params.map`.

    `watch:` a folder: each run reads the files matching `pattern` that were not read before (a file
    whose size or modification time changed since is read again), oldest first and at most `max_files`
    of them, and remembers them in a JSON state file (`state_file`, default
    `<data dir>/collectors/<collector id>.read.json`) once their rows are written (`delivered()`), so
    a run that fails after reading them reads them again.
    """

    name = "csv"

    Params = CsvParams

    def __init__(self, params: CsvParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        self.p = params
        params.map.check_catalog(context.catalog)
        self.redact = encoded_too(context.redact)
        self._client: httpx.AsyncClient | None = None
        self.state_path: Path | None = None
        self._unsaved: dict[str, dict[str, Any]] | None = None
        """The files read by the last run, saved as read by `delivered()` once their rows are written."""
        if params.watch is not None:
            if params.state_file is not None:
                self.state_path = self._local(params.state_file)
            else:
                data = context.settings.resolved_data_dir if context.settings is not None else context.site / "var"
                self.state_path = data / "collectors" / f"{context.collector_id}.read.json"

    def _local(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.context.site / p

    async def starting(self) -> None:
        self._unsaved = None

    async def delivered(self) -> None:
        if self._unsaved is not None:
            files, self._unsaved = self._unsaved, None
            await asyncio.to_thread(self._save_state, files)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- parsing -----------------------------------------------------------------------------------------

    def parse(self, text: str, name: str) -> Table:
        p = self.p
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=p.delimiter, quotechar=p.quotechar)
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        bad: list[Rejection] = []
        names: list[str] | None = list(p.columns) if p.columns else None
        skipped = 0
        need_header = p.header
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                bad.append(Rejection("row", f"not CSV: {exc} ({name}:{reader.line_num})", None, reader.line_num))
                continue
            if skipped < p.skip_rows:
                skipped += 1
                continue
            if not row or all(not cell.strip() for cell in row):
                continue  # blank lines (often at the end of exported files)
            if need_header:
                need_header = False
                if names is None:
                    names = [cell.strip() for cell in row]
                continue
            assert names is not None
            if len(row) != len(names):
                bad.append(Rejection("row", f"{len(row)} fields where the header has {len(names)} "
                                            f"({name}:{reader.line_num})", p.delimiter.join(row)[:200],
                                     reader.line_num))
                continue
            record: dict[str, Any] = dict(zip(names, row, strict=True))
            record["_file"] = name
            record["_line"] = reader.line_num
            records.append(record)
            lines.append(reader.line_num)
        return Table(records, lines, bad)

    def _map(self, table: Table, name: str, now: float) -> CollectResult:
        catalog = self.context.catalog
        result = self.p.map.apply(table.records, now=now, source=self.context.collector_id, catalog=catalog,
                                  tz=catalog.city.timezone)
        # Point at the file's line, not the record's position, so an operator finds the row.
        rejected = list(table.bad)
        for r in result.rejected:
            line = table.lines[r.index] if r.index is not None and r.index < len(table.lines) else None
            rejected.append(Rejection(r.field, f"{r.reason} ({name}:{line})", r.value, line))
        return CollectResult(result.samples, rejected)

    # --- sources -----------------------------------------------------------------------------------------

    async def _read_url(self, url: str) -> bytes:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.p.timeout, follow_redirects=True,
                                             headers={"User-Agent": USER_AGENT, **self.p.headers})
        response = await fetch(self._client, self._client.build_request("GET", url), self.redact)
        return response.content

    async def collect(self, now: float) -> CollectResult:
        p = self.p
        if p.watch is not None:
            return await self._collect_folder(now)
        if p.url is not None:
            data, name = await self._read_url(p.url), p.url.rsplit("/", 1)[-1].split("?")[0] or "csv"
        else:
            assert p.file is not None
            path = self._local(p.file)
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except OSError as exc:
                raise CollectError(f"cannot read {path}: {exc.strerror}") from None
            name = path.name
        try:
            text = decode(data, p.encoding)
        except Undecodable as exc:
            raise CollectError(self.redact(f"{name}: {exc}")) from None
        table = await asyncio.to_thread(self.parse, text, name)
        return self._map(table, name, now)

    def _load_state(self) -> dict[str, dict[str, Any]]:
        assert self.state_path is not None
        try:
            data = orjson.loads(self.state_path.read_bytes())
            files = data.get("files", {}) if isinstance(data, dict) else {}
            return files if isinstance(files, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            # A damaged state file must not stop collection; files may be read again, which is logged.
            self.context.log.warning("state file %s unreadable (%s); starting afresh", self.state_path, exc)
            return {}

    def _save_state(self, files: dict[str, dict[str, Any]]) -> None:
        assert self.state_path is not None
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_bytes(orjson.dumps({"folder": str(self._local(self.p.watch or "")), "files": files},
                                     option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.state_path)  # atomic: a crash leaves the old state or the new one

    def new_files(self, files: dict[str, dict[str, Any]], now_wall: float) -> list[tuple[Path, os.stat_result]]:
        folder = self._local(self.p.watch or "")
        if not folder.is_dir():
            raise CollectError(f"watched folder {folder} does not exist")
        out = []
        for entry in os.scandir(folder):
            if not entry.is_file() or not fnmatch.fnmatch(entry.name, self.p.pattern):
                continue
            st = entry.stat()
            if now_wall - st.st_mtime < self.p.settle:
                continue
            known = files.get(entry.name)
            if known and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns:
                continue
            out.append((Path(entry.path), st))
        out.sort(key=lambda x: (x[1].st_mtime_ns, x[0].name))
        return out

    async def _collect_folder(self, now: float) -> CollectResult:
        files = await asyncio.to_thread(self._load_state)
        todo = await asyncio.to_thread(self.new_files, files, time.time())
        if len(todo) > self.p.max_files:
            self.context.log.info("%d new files; reading the oldest %d, the rest in the next runs", len(todo),
                                  self.p.max_files)
            del todo[self.p.max_files:]
        samples, rejected = [], []
        for path, st in todo:
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except OSError as exc:  # removed between listing and reading: try again next run
                self.context.log.warning("cannot read %s: %s", path, exc.strerror)
                continue
            try:
                table = await asyncio.to_thread(self.parse, decode(data, self.p.encoding), path.name)
                result = self._map(table, path.name, now)
                samples += result.samples
                rejected += result.rejected
                rows = len(table.records)
            except Undecodable as exc:
                # One bad file must not block the folder: it is rejected, remembered, and not retried.
                rejected.append(Rejection("file", str(exc), path.name))
                rows = 0
            files[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "read_at": round(time.time(), 3),
                                "rows": rows}
            self.context.log.info("read %s: %d rows", path.name, rows)
        present = {e.name for e in os.scandir(self._local(self.p.watch or "")) if e.is_file()}
        gone = [n for n in files if n not in present]
        for name in gone:  # a removed file is forgotten: one put back under its name is read again
            del files[name]
        # Saved by delivered(), once the rows are written: saved here, a run failing after it (a timeout,
        # Redis refusing the write) would leave files marked read whose rows were never written. A dry run
        # (`collectors run --dry-run`) never marks files as read.
        self._unsaved = files if (todo or gone) and not self.context.dry_run else None
        return CollectResult(samples, rejected)

