"""Photos attached to reports and feedback: checked by their bytes, not their names."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from incidents import history
from incidents.errors import InvalidInput
from incidents.models import Case, CaseEvent, CasePhoto

# File signatures (magic numbers) of the accepted image types.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),  # RIFF....WEBP
)


@dataclass(frozen=True)
class CheckedPhoto:
    upload: UploadedFile
    content_type: str
    size: int
    sha256: str


def _content_type(head: bytes) -> str | None:
    for signature, offset, content_type in _SIGNATURES:
        found = head[offset : offset + len(signature)] == signature
        if found and (content_type != "image/webp" or head.startswith(b"RIFF")):
            return content_type
    return None


def check_photos(uploads: Sequence[UploadedFile]) -> list[CheckedPhoto]:
    """Validate the uploads (count, size, type); InvalidInput names the file at fault."""
    limit = settings.CASE_PHOTO_MAX_COUNT
    if len(uploads) > limit:
        raise InvalidInput(
            _("最多上传%(limit)d张照片，收到%(count)d张。")
            % {"limit": limit, "count": len(uploads)},
            field="photos",
        )
    checked = []
    for upload in uploads:
        name = upload.name or "?"
        size = upload.size or 0
        if size > settings.CASE_PHOTO_MAX_BYTES:
            raise InvalidInput(
                _("照片 %(name)s 大小为 %(size).1f MB，超过上限 %(max).1f MB。")
                % {
                    "name": name,
                    "size": size / 2**20,
                    "max": settings.CASE_PHOTO_MAX_BYTES / 2**20,
                },
                field="photos",
            )
        content_type, size, sha256 = _read(upload)
        if content_type is None:
            raise InvalidInput(
                _("文件 %(name)s 不是 JPEG、PNG 或 WebP 图片。") % {"name": name}, field="photos"
            )
        checked.append(CheckedPhoto(upload, content_type, size, sha256))
    return checked


def _read(upload: UploadedFile) -> tuple[str | None, int, str]:
    """Type, size and SHA-256 of an upload, read in chunks: the same whether Django
    keeps it in memory or spooled it to a temporary file (above
    FILE_UPLOAD_MAX_MEMORY_SIZE), and never the whole photo in memory at once."""
    upload.seek(0)
    digest = hashlib.sha256()
    head = b""
    size = 0
    for chunk in upload.chunks():
        if len(head) < 16:
            head += chunk[: 16 - len(head)]
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return _content_type(head), size, digest.hexdigest()


def attach(case: Case, photos: Sequence[CheckedPhoto], event: CaseEvent | None) -> None:
    if photos and event is not None and event.pk is None:
        history.flush()  # the entry is in a batch (incidents.history): its id first
    for photo in photos:
        row = CasePhoto(
            case=case, event=event, content_type=photo.content_type, size=photo.size,
            sha256=photo.sha256,
        )  # fmt: skip
        row.image.save("photo", photo.upload, save=False)
        row.save()
