"""Languages: the message catalogues (French, English), the choice of a language for a request and
numbers, times and distances written for it. Used by ``web`` and ``dashboard``; imports only the
standard library and Babel, so any edge may build on it."""
