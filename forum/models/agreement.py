"""The agreement: principles, commitments, and the city's departments."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model


class Principle(Model):
    """One of the six shared principles of the agreement."""

    __tablename__ = "principles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int]
    name_sv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_sv: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_sv

    def description(self, locale: str) -> str:
        return self.description_en if locale == "en" else self.description_sv


class Commitment(Model):
    """One of the thirteen commitments (åtaganden) that everything links to."""

    __tablename__ = "commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int]
    title_sv: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description_sv: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_sv

    def description(self, locale: str) -> str:
        return self.description_en if locale == "en" else self.description_sv


class Department(Model):
    """A city body (förvaltning/nämnd) that officials belong to."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
