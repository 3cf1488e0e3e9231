"""POST /cimom: the CIM-XML front end (DSP0200), and the only place its errors are translated."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from pywbem import CIM_ERR_FAILED, CIMError
from starlette.concurrency import run_in_threadpool

from emulator.auth import Authenticator
from emulator.cimxml import intrinsic
from emulator.cimxml.encode import error_response, imethod_response
from emulator.cimxml.request import CimRequest, CimXmlHttpError, check_headers, decode
from emulator.dispatch import Dispatcher
from emulator.endpoints import EndpointMap
from emulator.enumerations import Enumerations

log = logging.getLogger("hvsim.cimxml")
CONTENT_TYPE = 'application/xml; charset="utf-8"'


def http_error(error: CimXmlHttpError) -> Response:
    return Response(status_code=error.status, content=error.detail + "\n",
                    media_type="text/plain; charset=utf-8",
                    headers={"CIMError": error.cim_error})


def router(dispatcher: Dispatcher, endpoints: EndpointMap, auth: Authenticator) -> APIRouter:
    enumerations = Enumerations(dispatcher)
    api = APIRouter()

    def answer(host: str, request: CimRequest) -> str:
        try:
            if not request.intrinsic:
                dispatcher.invoke_method(host, request.namespace, request.target,
                                         request.name, request.params)
                raise CIMError(CIM_ERR_FAILED, "no method result")  # pragma: no cover
            call = intrinsic.Call(dispatcher, enumerations, host, request)
            body, out_params = intrinsic.run(call)
            rendered = intrinsic.materialise(body)
            return "".join(imethod_response(request.message_id, request.name, rendered,
                                            out_params))
        except CIMError as error:
            return error_response(request.message_id, request.name,
                                  intrinsic=request.intrinsic, code=error.status_code,
                                  description=error.status_description)
        except Exception:
            log.exception("unexpected failure answering %s", request.name)
            return error_response(request.message_id, request.name,
                                  intrinsic=request.intrinsic, code=CIM_ERR_FAILED,
                                  description="internal error")

    @api.post("/cimom")
    async def cimom(request: Request) -> Response:
        denied = auth.check(request.headers.get("authorization"))
        if denied is not None:
            return denied
        try:
            method, cim_object = check_headers(request.headers)
            body = await request.body()
            cim_request = decode(body, method, cim_object)
        except CimXmlHttpError as error:
            return http_error(error)
        host = endpoints.host_for(request.scope)
        text = await run_in_threadpool(answer, host, cim_request)
        return Response(content=text.encode("utf-8"), media_type=CONTENT_TYPE,
                        headers={"CIMOperation": "MethodResponse"})

    return api
