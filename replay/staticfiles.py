"""Static files as browsers should get them: `collectstatic` (which `make` runs) copies
them into STATIC_ROOT under names that carry a digest of their content
(`replay/player.3f2a9c1e0b7d.js`, named in `staticfiles.json`, the manifest), with gzip
copies beside them, and WhiteNoise serves those: compressed when the browser takes it,
without compressing anything per request, and kept a year without asking again
(`immutable`) under a digest name. A changed file gets a new name, so a browser never runs
an old player with a new page. The pages' `{% static %}` URLs are the digest names. A name
without its digest (the recorder's script tag on customers' sites, which must not
change) is served too, kept for a minute and then asked again.

With REPLAY_DEBUG, files are served from where they are (the app's folder, the npm
packages, the built recorder), as they change, under their plain names."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class DigestStaticFilesStorage(CompressedManifestStaticFilesStorage):  # type: ignore[misc]
    """Digest names and gzip copies; references inside style sheets follow the names.
    Scripts are left as they are: rrweb's carry a worker inline whose own source-map
    comment names a file that does not exist."""

    patterns = tuple(
        (pattern, rules)
        for pattern, rules in CompressedManifestStaticFilesStorage.patterns
        if pattern != "*.js"
    )
    # Only the final names are kept: the intermediate copies would double the folder.
    keep_intermediate_files = False
