"""Currency units of money figures (revenue, pipeline, targets) as ISO 4217 codes.

A plan says which currency its money figures are in (``[kpis] currency = "EUR"`` or
``Plan(currency="EUR")``); a regional adjustment (e.g. ``localisation``) may give a currency per
territory. No currency set means no unit is shown: nothing defaults to USD.
"""

from __future__ import annotations

import re
from typing import Any

from territory.errors import ValidationError

# Account and territory columns that hold money (shown with the currency unit).
MONEY = frozenset({
    "revenue", "pipeline", "target", "target_before_adjustments", "potential", "actual",
    "expected_to_date", "run_rate_forecast", "weighted_pipeline", "revenue_prior",
})  # fmt: skip

# ISO 4217 codes: the active list (funds and metals included), as in Debian's iso-codes 4217
# table, plus codes withdrawn since 2023 that historical books still use (ANG, BGN, CUC, SLL,
# ZWL).
ISO_4217 = frozenset(
    """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG
XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
""".split()
)


def currency_code(value: Any, where: str) -> str | None:
    """``value`` as an ISO 4217 code (upper case), or None when not set.

    Raises
    ------
    ValidationError
        When ``value`` is not a three-letter ISO 4217 code; the message names ``where``.
    """
    if value is None:
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or not re.fullmatch(r"[A-Z]{3}", code) or code not in ISO_4217:
        shown = repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
        hint = "" if code is None or len(code) == 3 else " (three letters)"
        raise ValidationError(
            f"{where} is {shown}: not an ISO 4217 currency code{hint}. Give the three-letter "
            'code in quotes, e.g. "EUR", "USD" or "GBP", or leave it out to show no unit.'
        )
    return code
