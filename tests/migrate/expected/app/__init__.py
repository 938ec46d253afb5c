"""A small app written for the openai SDK: the codemod's fixture."""
