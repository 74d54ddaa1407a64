"""Curated content: the entry schema, the topic ids, loading and validation."""

from knowledge.loader import Problem, load_pack, read_pack
from knowledge.schema import Answer, Entry, KnowledgePack, Source
from knowledge.topics import Topic, load_topics

__all__ = ["Answer", "Entry", "KnowledgePack", "Problem", "Source", "Topic", "load_pack", "load_topics", "read_pack"]
