"""The packaged connector's requester: the CDK's HttpRequester, rendering a request's URL, query
parameters and headers once per window instead of once per page.

The CDK renders the manifest's templates for each page it asks for (url_base, path, every request
parameter: for events, two date windows built with several macros each), about a twentieth of an
events sync's CPU. A template whose only inputs are the config and the slice (the window and the
project) renders the same text for every page of one slice, and the CDK hands every page of a
slice the same StreamSlice object, which cannot be changed. Such a template is rendered once per
slice object and its text kept; a template reading anything else (the page token, the clock,
anything not known to be fixed) is rendered for each page as before.

The Cloud manifest runs the CDK's own requester.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

import requests
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.interpolation.jinja import _ENVIRONMENT as _JINJA
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester
from airbyte_cdk.sources.declarative.requesters.request_options import InterpolatedRequestOptionsProvider
from airbyte_cdk.sources.types import StreamSlice
from jinja2 import nodes

from source_sentry.packaged import endpoint_skips, probes
from source_sentry.packaged.parts import PartPlanner

# What a template may read and still render the same text for every page of a slice: the config,
# the component's parameters, the slice under its three names, and macros that are pure functions
# of their arguments. The clock's macros (now_utc, today_utc, day_delta...), the page token and
# the state are not among them.
SLICE_INPUTS: Final = frozenset(
    {
        "config",
        "parameters",
        "stream_slice",
        "stream_partition",
        "stream_interval",
        "str_to_datetime",
        "format_datetime",
        "duration",
        "max",
        "min",
    }
)
# Slices kept per requester (their texts are a few hundred bytes): more than the windows a stream
# reads at once; emptied when full.
_KEPT: Final = 256


def renders_from_slice(template: Any) -> bool:
    """Whether `template` (a string, an InterpolatedString, or mappings and lists of them) reads
    nothing but SLICE_INPUTS."""
    if isinstance(template, InterpolatedString):
        return renders_from_slice(template.string) and renders_from_slice(template.default)
    if isinstance(template, Mapping):
        return all(renders_from_slice(k) and renders_from_slice(v) for k, v in template.items())
    if isinstance(template, (list, tuple)):
        return all(renders_from_slice(item) for item in template)
    if not isinstance(template, str):
        return True
    names, filters = _inputs(template)
    return names <= SLICE_INPUTS and not filters & _UNSTABLE_FILTERS


# Jinja's filters that can give another text for the same inputs.
_UNSTABLE_FILTERS: Final = frozenset({"random"})


@lru_cache(maxsize=1024)
def _inputs(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The names a template reads and does not set itself, and the filters it applies, from one
    parse. Not Jinja's `find_undeclared_variables`: that leaves out the environment's globals,
    which are the CDK's macros, the clock's among them."""
    tree = _JINJA.parse(text)
    loaded = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    # Set in the template: its own, unless a macro's name (it could be read before it is set).
    stored = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "store"} - set(_JINJA.globals)
    filters = frozenset(node.name for node in tree.find_all(nodes.Filter))
    return frozenset(loaded - stored), filters


class SliceRenderedRequester(HttpRequester):
    """The CDK's HttpRequester; see the module's text. Built by the CDK, then made one of these
    (`adopt`), as the CDK's factory builds no class of ours."""

    _url_from_slice = False
    _options_from_slice = False
    # The planner of this stream's parts (parts.py), handed over by the component factory when it
    # builds a planned stream's requester: a part of a score-paged stream starts its first page
    # where the planner says.
    planner: PartPlanner | None = None
    _probing: SliceRenderedRequester | None = None  # the copy that sends the planner's probes (probes.py)

    @classmethod
    def adopt(cls, built: HttpRequester) -> None:
        built.__class__ = cls
        requester: SliceRenderedRequester = built  # type: ignore[assignment]
        requester._url_from_slice = all(
            renders_from_slice(t) for t in (requester._url, requester._url_base, requester._path)
        )
        provider = requester._request_options_provider
        requester._options_from_slice = type(provider) is InterpolatedRequestOptionsProvider and (
            renders_from_slice(provider.request_parameters) and renders_from_slice(provider.request_headers)
        )

    def send_request(self, *args: Any, **kwargs: Any) -> Any:
        """The CDK's, unless this sync already found the stream's endpoint unserved (see
        endpoint_skips.py): then no request, and no records, as for an ignored answer."""
        url = self._get_url(
            path=kwargs.get("path"),
            stream_state=kwargs.get("stream_state"),
            stream_slice=kwargs.get("stream_slice"),
            next_page_token=kwargs.get("next_page_token"),
        )
        return endpoint_skips.send(
            self.name, url, lambda: super(SliceRenderedRequester, self).send_request(*args, **kwargs)
        )

    def send_probe(self, window: StreamSlice, params: Mapping[str, str]) -> requests.Response | None:
        """A request of the part planner (parts.py): a page of `window` with `params`, whose 400
        is the planner's answer rather than the read's failure (probes.py)."""
        probing = self._probing
        if probing is None:
            probing = self._probing = probes.probing_copy(self)
            # The probe asks its own cursor: no part's first page.
            probing.planner = None
        response: requests.Response | None = probing.send_request(
            stream_state={}, stream_slice=window, request_params=params
        )
        return response

    def _get_url(
        self,
        *,
        path: str | None = None,
        stream_state: Any = None,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> str:
        def render() -> str:
            return HttpRequester._get_url(
                self,
                path=path,
                stream_state=stream_state,
                stream_slice=stream_slice,
                next_page_token=next_page_token,
            )

        if path is None and self._url_from_slice and type(stream_slice) is StreamSlice:
            return self._rendered("url", stream_slice, render)  # type: ignore[no-any-return]
        return render()

    def get_request_params(
        self,
        *,
        stream_state: Any = None,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Any:
        params = self._options(HttpRequester.get_request_params, stream_state, stream_slice, next_page_token)
        # A part of a score-paged stream (parts.py) starts its first page at the part's end.
        planner = self.planner
        if planner is not None and not (next_page_token or {}).get("next_page_token"):
            cursor = planner.part_start(stream_slice)
            if cursor is not None:
                params = {**params, "cursor": cursor}
        return params

    def get_request_headers(
        self,
        *,
        stream_state: Any = None,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Any:
        return self._options(HttpRequester.get_request_headers, stream_state, stream_slice, next_page_token)

    def _options(
        self, method: Callable[..., Any], stream_state: Any, stream_slice: Any, next_page_token: Any
    ) -> Any:
        """The CDK's `method` (the provider's parameters or headers) for these arguments: once per
        slice object when its templates allow, a copy each time (callers may change it)."""

        def render() -> Any:
            return method(
                self, stream_state=stream_state, stream_slice=stream_slice, next_page_token=next_page_token
            )

        if self._options_from_slice and type(stream_slice) is StreamSlice:
            return dict(self._rendered(method.__name__, stream_slice, render))
        return render()

    def _rendered(self, kind: str, window: StreamSlice, render: Callable[[], Any]) -> Any:
        """What `render` gives for `window`, rendered on the first call for this slice object.
        Threads reading other slices of the stream share the table: a race renders twice."""
        table: dict[tuple[str, int], tuple[StreamSlice, Any]] = self.__dict__.setdefault("_texts", {})
        key = (kind, id(window))
        kept = table.get(key)
        if kept is not None and kept[0] is window:  # the object held, so its id is not reused
            return kept[1]
        value = render()
        if len(table) >= _KEPT:
            table.clear()
        table[key] = (window, value)
        return value
