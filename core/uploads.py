"""Uploaded files, bounded: no upload is kept beyond MAX_UPLOAD_BYTES, whatever size the client sends.

Django's default handlers keep a whole upload (in memory, then in a temporary file), so a 30 MiB
"CA certificate" was stored in full before the form refused it for its size. This handler keeps at
most one byte more than the limit, in memory, and drops the rest as it arrives; the form then sees
a file larger than it accepts and says so, and nothing large was ever stored.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class BoundedUploadHandler(FileUploadHandler):
    """Keeps the first MAX_UPLOAD_BYTES + 1 bytes of each uploaded file, in memory; its size says if it
    was cut."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.limit = settings.MAX_UPLOAD_BYTES + 1
        self.file = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        room = self.limit - self.file.tell()
        if room > 0:
            self.file.write(raw_data[:room])
        return None  # no later handler: the rest of an oversized file is dropped here

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.file.seek(0)
        return InMemoryUploadedFile(
            file=self.file,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=len(self.file.getbuffer()),
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
