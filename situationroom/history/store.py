"""The history store's files through `pyarrow.fs`: atomic writes, listing partitions and files, reading, deleting.

Everything goes through a `pyarrow.fs.FileSystem` and a root path in it, so the same code runs on the local disk and
on an S3-compatible object store; only the atomic write differs (a local file is renamed into place, an object
store's PUT is atomic by itself)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.settings import Settings


@dataclass(frozen=True, slots=True)
class DataFile:
    """One file of a partition: its name, full path in the filesystem, when it was last written (epoch s) and its
    size in bytes."""

    name: str
    path: str
    mtime: float
    size: int = 0


LIST_TRIES = 5
"""Reads of a folder that changed while it was read, before the change is reported as an error."""
READ_TRIES = 3
"""Reads of files listed a moment before, when one of them vanished meanwhile, before the error is the caller's."""

Listed = TypeVar("Listed")
Read = TypeVar("Read")

class HistoryStore:
    """The datasets under one root of one filesystem."""

    def __init__(self, fs: pafs.FileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    @classmethod
    def local(cls, root: Path) -> HistoryStore:
        return cls(pafs.LocalFileSystem(), str(root.resolve()))

    @classmethod
    def s3(cls, url: str, endpoint: str | None = None) -> HistoryStore:
        """The store at s3://bucket/prefix; credentials and region from the AWS environment variables, `endpoint`
        (http(s)://host:port; else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL) for an S3-compatible store other than
        AWS."""
        # A file small enough goes up as one PUT (with a delayed open); a larger one as a multipart upload, which
        # is as atomic: the object appears only when the upload completes.
        options: dict[str, object] = {"allow_delayed_open": True}
        endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint is not None:
            scheme, _, host = endpoint.partition("://")
            options |= {"endpoint_override": host, "scheme": scheme}
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            options["region"] = region
        return cls(pafs.S3FileSystem(**options), url.removeprefix("s3://"))

    @property
    def url(self) -> str:
        """Where the store is, as an operator reads it."""
        return self.root if self.is_local else f"s3://{self.root}"

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path_of(self, partition: Partition, name: str = "") -> str:
        base = f"{self.root}/{partition.path}"
        return f"{base}/{name}" if name else base

    def write(self, partition: Partition, name: str, table: pa.Table, *, compression_level: int | None = None,
              schema: pa.Schema = layout.SCHEMA) -> str:
        """Write `table` (in `schema`: the samples', or the rollups') as the file `name` of `partition`, atomically:
        readers see the whole file or none of it, and a file of that name is replaced. Returns its path."""
        final = self.path_of(partition, name)
        if not self.is_local:
            # An object store's PUT is atomic by itself, its "rename" a copy, and its folders only key prefixes.
            _write_parquet(table.cast(schema), final, self.fs, compression_level)
            return final
        self.fs.create_dir(self.path_of(partition), recursive=True)
        tmp = self.path_of(partition, layout.temporary_name(name))
        _write_parquet(table.cast(schema), tmp, self.fs, compression_level)
        # On disk before the rename and the rename on disk before the caller acknowledges the stream entries, so a
        # power cut cannot lose rows Redis has forgotten.
        _fsync(tmp)
        self.fs.move(tmp, final)
        _fsync(self.path_of(partition))
        return final

    def partitions(self, dataset: str) -> list[Partition]:
        """Every partition of a dataset that holds a folder."""
        out = []
        base = f"{self.root}/{dataset}"
        for date_dir in self._list(base):
            if date_dir.type != pafs.FileType.Directory:
                continue
            for domain_dir in self._list(date_dir.path):
                if domain_dir.type != pafs.FileType.Directory:
                    continue
                found = layout.parse_partition(dataset, f"{date_dir.base_name}/{domain_dir.base_name}")
                if found is not None:
                    out.append(found)
        return sorted(out)

    def files(self, partition: Partition) -> list[DataFile]:
        """The data files of a partition (not the temporary ones being written)."""
        return sorted((DataFile(info.base_name, info.path, info.mtime.timestamp() if info.mtime else 0.0,
                                info.size or 0)
                       for info in self._list(self.path_of(partition))
                       if info.type == pafs.FileType.File and layout.is_data_file(info.base_name)),
                      key=lambda f: f.name)

    def files_by_hour(self, partition: Partition, files: list[DataFile] | None = None) -> dict[int, list[DataFile]]:
        """A partition's files of single event hours (flushes and compacted hours), by hour (of `files` when the
        caller listed them already)."""
        by_hour: dict[int, list[DataFile]] = {}
        for f in self.files(partition) if files is None else files:
            hour = layout.hour_of_file(f.name)
            if hour is not None:
                by_hour.setdefault(hour, []).append(f)
        return by_hour

    def files_for(self, dataset: str, dates: Iterable[str], domains: Iterable[str] | None = None) -> list[str]:
        """Paths of the data files of the given dates (and domains; every domain when None)."""
        return [f.path for partition in self.partitions_for(dataset, dates, domains) for f in self.files(partition)]

    def dates(self, dataset: str) -> list[str]:
        """The dates (YYYY-MM-DD, UTC) a dataset holds a folder of, oldest first: one listing."""
        return sorted(info.base_name.removeprefix("date=") for info in self._list(f"{self.root}/{dataset}")
                      if info.type == pafs.FileType.Directory and info.base_name.startswith("date="))

    def partitions_for(self, dataset: str, dates: Iterable[str], domains: Iterable[str] | None = None
                       ) -> list[Partition]:
        """The partitions of the given dates (and domains; every domain when None) that hold a folder."""
        wanted = set(domains) if domains is not None else None
        # The dates that hold data, read with one listing: a range of years names thousands of dates, and
        # listing each on an object store is a request each.
        present = set(self.dates(dataset))
        out: list[Partition] = []
        for date in sorted(present.intersection(dates)):
            base = f"{self.root}/{dataset}/date={date}"
            for domain_dir in self._list(base):
                domain = domain_dir.base_name.removeprefix("domain=")
                if domain_dir.type != pafs.FileType.Directory or (wanted is not None and domain not in wanted):
                    continue
                out.append(Partition(dataset, date, domain))
        return out

    def read(self, paths: Iterable[str], schema: pa.Schema = layout.SCHEMA) -> pa.Table:
        """Every row of the given files, in `schema` (the samples', or the rollups')."""
        tables = [pq.read_table(path, filesystem=self.fs, schema=schema) for path in paths]
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def read_listed(self, listing: Callable[[], Listed], reading: Callable[[Listed], Read]) -> Read:
        """`reading` (pyarrow or DuckDB) of the files `listing` found (paths, or a query's plan of them), listed and
        read again when one of them vanished in between: a compaction, or a day's rollups, replaced it, and its rows
        are in the file that replaced it, which the next listing finds. The last try's error is the caller's."""
        for _ in range(READ_TRIES - 1):
            try:
                return reading(listing())
            except (OSError, duckdb.Error):
                continue
        return reading(listing())

    def delete(self, paths: Iterable[str]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(path)

    def delete_partition(self, partition: Partition) -> None:
        """Remove a whole partition (retention), and its date's folder once no domain is left in it."""
        with contextlib.suppress(FileNotFoundError):  # another historian dropped it first
            self.fs.delete_dir(self.path_of(partition))
        date_dir = f"{self.root}/{partition.dataset}/date={partition.date}"
        if self.is_local and not self._list(date_dir):
            self.fs.delete_dir(date_dir)

    def _list(self, base: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(base, allow_not_found=True, recursive=False)
        for _ in range(LIST_TRIES):
            try:
                return self.fs.get_file_info(selector)
            except FileNotFoundError:
                # A file renamed or deleted between reading the folder and looking at it (a flush's temporary
                # file, a compaction's inputs): read the folder again, or the reader would miss its files.
                continue
        # Still changing under us: the folder itself was created or removed (retention) meanwhile, as good as
        # not there yet, or no longer.
        return []


def store_for(settings: Settings) -> HistoryStore:
    """The history store the settings name: the object store at `history_url`, else the folder `history_dir`
    (default <data dir>/history)."""
    if settings.history_url is not None:
        return HistoryStore.s3(settings.history_url, settings.history_s3_endpoint)
    return HistoryStore.local(settings.resolved_history_dir)


def _write_parquet(table: pa.Table, path: str, fs: pafs.FileSystem, compression_level: int | None) -> None:
    pq.write_table(table, path, filesystem=fs, compression="zstd",
                   compression_level=compression_level, use_dictionary=True, write_statistics=True)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
