"""One settings object for the whole tutor, read from env vars (TUTOR_*) and an optional TOML file.

Precedence (highest first): constructor arguments, environment variables, the TOML file named by
TUTOR_CONFIG (or ./tutor.toml when present), then the defaults below. Every setting has a working
default, so the tutor runs embedded (local Chroma on disk, shipped models) with no configuration.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KB_PACKAGE_DIR = PROJECT_ROOT / "kb"
MODELS_PACKAGE_DIR = PROJECT_ROOT / "models"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "course-tutor"


def _config_file() -> Path | None:
    explicit = os.environ.get("TUTOR_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "tutor.toml"
    return local if local.is_file() else None


class Settings(BaseSettings):
    """All configuration in one place. Env vars: TUTOR_DATA_DIR, TUTOR_CHROMA_HOST, ..."""

    model_config = SettingsConfigDict(env_prefix="TUTOR_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where the index and sessions live.")
    chroma_path: Path | None = Field(default=None, description="Embedded Chroma folder; default <data_dir>/chroma.")
    chroma_host: str | None = Field(default=None, description="Chroma server host; when set, HttpClient is used.")
    chroma_port: int = Field(default=8000, description="Chroma server port.")
    collection: str = Field(default="course_notes", description="Chroma collection name.")
    corpus_dir: Path = Field(default=KB_PACKAGE_DIR / "corpus", description="Default knowledge-base documents.")
    embedding_model: Path = Field(
        default=KB_PACKAGE_DIR / "embedder", description="Local sentence-transformers model folder."
    )
    model_checkpoint: Path = Field(
        default=MODELS_PACKAGE_DIR / "checkpoints" / "agent", description="The tutor GPT checkpoint folder."
    )
    model_quantize: Literal["int8", "none"] = Field(
        default="int8",
        description="Weights of the tutor GPT on the CPU: int8 (about 2x faster decoding) or none (float32).",
    )
    answer_min_blocks: int = Field(
        default=3,
        ge=0,
        le=5,
        description=(
            "A concept answer quotes at least this many of the search's evidence blocks (all of them when "
            "fewer; it opens with the first-ranked note, the model orders the rest); 0 lets the tutor GPT decide where to stop. On eval/dev.jsonl: "
            "3 → 83.2 % pass, 2 → 73.3 %, 0 → 70.3 %."
        ),
    )
    chunk_chars: int = Field(default=400, ge=80, le=4000, description="Target chunk size in characters.")
    chunk_overlap: int = Field(default=80, ge=0, le=1000, description="Window overlap for transcripts (chars).")
    top_k: int = Field(default=5, ge=1, le=50)

    @property
    def chroma_dir(self) -> Path:
        return self.chroma_path or (self.data_dir / "chroma")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests build their own `Settings(...)` instead."""
    return Settings()
