// Public face of the simulator: the event clock, the twin (nodes on segments), host stacks, the internet builder
// and capture output.
export { EventClock } from "./clock.js";
export type { RunOptions, RunResult, RunStop, Scheduled } from "./clock.js";
export { Simulation, addressWords } from "./simulation.js";
export type {
  ConnectSpec,
  InterfaceSpec,
  NodeSpec,
  RouteText,
  SetupError,
  SetupResult,
  SimulationOptions,
} from "./simulation.js";
export { SimNode, describePacketBytes } from "./node.js";
export type { NodeKind, SimStep } from "./node.js";
export { Segment } from "./segment.js";
export type { CaptureRecord, SegmentPort } from "./segment.js";
export {
  DEFAULT_SYN_RETRIES,
  EPHEMERAL_MAX,
  EPHEMERAL_MIN,
  HTTP_RESPONSE,
  HostStack,
  SNMP_RESPONSE,
  SSH_BANNER,
  SYN_RTO_MS,
  TCP_MSS,
  TCP_STATE_NAMES,
  TCP_WINDOW,
  TIME_WAIT_MS,
  TcpConnection,
  TcpState,
  serviceHandler,
  udpServiceHandler,
} from "./host-stack.js";
export type {
  ConnectOptions,
  ConnectResult,
  IsnChooser,
  ServiceSpec,
  StackEnv,
  TcpHandler,
  UdpDatagram,
  UdpHandler,
} from "./host-stack.js";
export { buildInternet } from "./internet.js";
export type { CustomerLink, Internet, InternetSpec, PublicHostSpec } from "./internet.js";
export { HOST_TTL, buildEchoReply, buildTcpSegment, buildUdpDatagram } from "./endpoint-packets.js";
export type { TcpSegmentSpec } from "./endpoint-packets.js";
export { describeDisposition, describeEvents, formatVerdict } from "./capture-comment.js";
export { writePcaps, writeSegmentCapture } from "./pcap-files.js";
