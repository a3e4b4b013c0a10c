"""The history store's files through `pyarrow.fs`: atomic writes, listing partitions and files, reading, deleting.

Everything goes through a `pyarrow.fs.FileSystem` and a root path in it, so the same code can later run on an
S3FileSystem; only the atomic write differs (a local file is renamed into place, an object store's PUT is atomic)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.settings import Settings


@dataclass(frozen=True, slots=True)
class DataFile:
    """One file of a partition: its name, full path in the filesystem and when it was last written (epoch s)."""

    name: str
    path: str
    mtime: float


LIST_TRIES = 5
"""Reads of a folder that changed while it was read, before the change is reported as an error."""

class HistoryStore:
    """The datasets under one root of one filesystem."""

    def __init__(self, fs: pafs.FileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    @classmethod
    def local(cls, root: Path) -> HistoryStore:
        return cls(pafs.LocalFileSystem(), str(root.resolve()))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path_of(self, partition: Partition, name: str = "") -> str:
        base = f"{self.root}/{partition.path}"
        return f"{base}/{name}" if name else base

    def write(self, partition: Partition, name: str, table: pa.Table, *, compression_level: int | None = None) -> str:
        """Write `table` as the file `name` of `partition`, atomically: readers see the whole file or none of it.
        Returns its path."""
        final = self.path_of(partition, name)
        self.fs.create_dir(self.path_of(partition), recursive=True)
        if not self.is_local:
            # An object store's PUT is atomic by itself, and its "rename" is a copy.
            _write_parquet(table, final, self.fs, compression_level)
            return final
        tmp = self.path_of(partition, layout.temporary_name(name))
        _write_parquet(table, tmp, self.fs, compression_level)
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
        return sorted((DataFile(info.base_name, info.path, info.mtime.timestamp() if info.mtime else 0.0)
                       for info in self._list(self.path_of(partition))
                       if info.type == pafs.FileType.File and layout.is_data_file(info.base_name)),
                      key=lambda f: f.name)

    def files_for(self, dataset: str, dates: Iterable[str], domains: Iterable[str] | None = None) -> list[str]:
        """Paths of the data files of the given dates (and domains; every domain when None)."""
        wanted = set(domains) if domains is not None else None
        out: list[str] = []
        for date in dates:
            base = f"{self.root}/{dataset}/date={date}"
            for domain_dir in self._list(base):
                domain = domain_dir.base_name.removeprefix("domain=")
                if domain_dir.type != pafs.FileType.Directory or (wanted is not None and domain not in wanted):
                    continue
                out += [f.path for f in self.files(Partition(dataset, date, domain))]
        return out

    def read(self, paths: Iterable[str]) -> pa.Table:
        """Every row of the given files, in the dataset's schema."""
        tables = [pq.read_table(path, filesystem=self.fs, schema=layout.SCHEMA) for path in paths]
        return pa.concat_tables(tables) if tables else layout.SCHEMA.empty_table()

    def delete(self, paths: Iterable[str]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(path)

    def _list(self, base: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(base, allow_not_found=True, recursive=False)
        for _ in range(LIST_TRIES - 1):
            try:
                return self.fs.get_file_info(selector)
            except FileNotFoundError:
                # A file renamed or deleted between reading the folder and looking at the file (a flush's
                # temporary file, a compaction's inputs): the folder is read again.
                continue
        return self.fs.get_file_info(selector)


def store_for(settings: Settings) -> HistoryStore:
    """The history store the settings name (today: the folder `history_dir`, default <data dir>/history)."""
    return HistoryStore.local(settings.resolved_history_dir)


def _write_parquet(table: pa.Table, path: str, fs: pafs.FileSystem, compression_level: int | None) -> None:
    pq.write_table(table.cast(layout.SCHEMA), path, filesystem=fs, compression="zstd",
                   compression_level=compression_level, use_dictionary=True, write_statistics=True)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
