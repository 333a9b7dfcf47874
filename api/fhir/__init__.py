"""The FHIR R4 interface of the SAS national guide (ans.fhir.fr.sas).

Include it with ``app.include_router(api.fhir.router)``.
"""

from api.fhir.router import router

__all__ = ["router"]
