// Connection tracking (nf_conntrack): the public face of src/engine/conntrack.
export {
  Conntrack,
  CtDrop,
  CtHook,
  CtCause,
  CT_CAUSE_NAMES,
  ExpectClass,
  ExpectFail,
  ExpectFlag,
  ExpectNat,
} from "./conntrack.js";
export type { ConntrackOptions, ConntrackEntryView, ConntrackTupleView, ExpectationView } from "./conntrack.js";
export { AnnounceFormat, CtHelper, HelperNatResult } from "./alg-helper.js";
export type { HelperNat, PendingExpectation, SipMaster } from "./alg-helper.js";
export { FtpKind, FtpMatch, findFtp } from "./ftp-scan.js";
export { TcpState, TCP_STATE_NAMES, LINUX_TIMEOUTS, OPENWRT_TIMEOUTS, resolveTimeouts } from "./timeouts.js";
export type { TimeoutTable, TimeoutProfile } from "./timeouts.js";
export { TcpIndex, TcpVerdict, TcpCause, tcpTransition, tcpFlagsValid, tcpIndex } from "./tcp-tracker.js";
