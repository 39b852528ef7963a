import type { Level } from './types.js';

export interface MessageType {
  code: string;
  name: string;
  level: Level;
  description: string;
  /** `%s` placeholders are filled in order with the reporter's args. */
  template: string;
}

/**
 * The one catalogue of analysis messages. IST codes are istioctl's (pkg/config/analysis/msg/
 * messages.yaml), used only where the check is the same, so suppressions written for istioctl carry
 * over; MSH codes are meshctl's own. A retired code is never reused. Sorted by code.
 */
export const MESSAGES: readonly MessageType[] = [
  { code: 'IST0002', name: 'Deprecated', level: 'Warning', description: 'A feature the configuration depends on is deprecated.', template: 'Deprecated: %s' },
  { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'Error', description: 'A resource being referenced does not exist.', template: 'Referenced %s not found: "%s"' },
  { code: 'IST0103', name: 'PodMissingProxy', level: 'Warning', description: 'A pod in a namespace labelled for injection is missing the proxy.', template: 'The pod %s is missing the proxy although its namespace %s is labelled for injection. Restart or redeploy the workload.' },
  { code: 'IST0106', name: 'SchemaValidationError', level: 'Error', description: 'The resource has a schema validation error.', template: 'Schema validation error: %s' },
  { code: 'IST0109', name: 'ConflictingMeshGatewayVirtualServiceHosts', level: 'Error', description: 'VirtualServices bound to the mesh gateway define the same host.', template: 'The VirtualServices %s associated with mesh gateway define the same host %s which can lead to undefined behavior. Merge them into one resource or use delegation.' },
  { code: 'IST0110', name: 'ConflictingSidecarWorkloadSelectors', level: 'Error', description: 'A Sidecar selects the same workloads as another Sidecar.', template: 'The Sidecars %s in namespace "%s" select the same workload %s, which can lead to undefined behavior.' },
  { code: 'IST0111', name: 'MultipleSidecarsWithoutWorkloadSelectors', level: 'Error', description: 'More than one Sidecar in a namespace has no workload selector.', template: 'The Sidecars %s in namespace "%s" have no workload selector, which can lead to undefined behavior.' },
  { code: 'IST0112', name: 'VirtualServiceDestinationPortSelectorRequired', level: 'Error', description: 'A route goes to a service with several ports but names none.', template: 'This VirtualService routes to a service "%s" that exposes multiple ports [%s]. Specifying a port in the destination is required to disambiguate.' },
  { code: 'IST0113', name: 'MTLSPolicyConflict', level: 'Error', description: 'A DestinationRule and a PeerAuthentication disagree about mTLS.', template: 'A DestinationRule and PeerAuthentication conflict on mTLS for host %s: DestinationRule "%s" sets TLS mode %s but PeerAuthentication "%s" requires %s.' },
  { code: 'IST0118', name: 'PortNameIsNotUnderNamingConvention', level: 'Info', description: 'A Service port name does not tell the protocol; protocol detection applies.', template: "Port name %s (port: %s, targetPort: %s) doesn't follow the naming convention of Istio port." },
  { code: 'IST0122', name: 'InvalidRegexp', level: 'Warning', description: 'A regular expression does not compile.', template: 'Field "%s" regular expression invalid: "%s" (%s)' },
  { code: 'IST0127', name: 'NoMatchingWorkloadsFound', level: 'Warning', description: 'No workload matches the resource selector.', template: 'No matching workloads for this resource with the following labels: %s' },
  { code: 'IST0130', name: 'VirtualServiceUnreachableRule', level: 'Warning', description: 'A VirtualService rule is never used because an earlier rule matches everything it would.', template: 'VirtualService rule %s not used (%s).' },
  { code: 'IST0131', name: 'VirtualServiceIneffectiveMatch', level: 'Info', description: 'A VirtualService match duplicates a match in an earlier rule.', template: 'VirtualService rule %s match %s is not used (duplicate/overlapping match in rule %s).' },
  { code: 'IST0132', name: 'VirtualServiceHostNotFoundInGateway', level: 'Warning', description: 'A VirtualService host is not served by its Gateway.', template: 'one or more host [%s] defined in VirtualService %s not found in Gateway %s.' },
  { code: 'IST0145', name: 'ConflictingGateways', level: 'Error', description: 'Gateways with the same selector and port claim the same hosts.', template: 'Conflict with gateways %s (workload selector %s, port %s, hosts %s).' },
  { code: 'IST0149', name: 'JwtClaimBasedRoutingWithoutRequestAuthN', level: 'Error', description: 'A route matches on JWT claims but no RequestAuthentication validates the JWT.', template: 'The virtual service uses JWT claim based routing (key: %s) but found no RequestAuthentication in namespace %s or the root namespace.' },
  { code: 'MSH0001', name: 'ResourceRedefined', level: 'Warning', description: 'An object is defined more than once in the input files, with different content; only the last definition is analyzed.', template: 'Also defined, differently, in %s; this last definition is the one analyzed.' },
  { code: 'MSH0101', name: 'SubsetSelectsNoWorkload', level: 'Warning', description: 'A routed subset selects no workload, so its traffic fails with 503.', template: 'Subset "%s" of host %s selects no workload (labels %s): traffic routed to it gets 503 no healthy upstream.' },
  { code: 'MSH0102', name: 'ServiceEntryHostConflict', level: 'Warning', description: 'ServiceEntries (or a ServiceEntry and a Service) define the same host differently.', template: 'Host %s is defined by %s and %s; which one applies is undefined.' },
  { code: 'MSH0103', name: 'MultipleDestinationRulesForHost', level: 'Warning', description: 'Several DestinationRules (no selector) apply to one host; only one takes effect.', template: 'DestinationRules %s all apply to host %s; only one is used. Merge them.' },
  { code: 'MSH0104', name: 'ConflictingPeerAuthentications', level: 'Error', description: 'Several PeerAuthentications select the same workload (or several namespace-wide ones exist).', template: 'PeerAuthentications %s in namespace "%s" all apply to %s; which one wins is undefined.' },
  { code: 'MSH0201', name: 'RouteWeightsDoNotSum', level: 'Error', description: 'The weights of a route do not add up to 100.', template: 'Route weights add up to %s, not 100.' },
  { code: 'MSH0202', name: 'InvalidDuration', level: 'Error', description: 'A duration is not a valid duration (e.g. 1.5s, 100ms, 2m).', template: 'Invalid duration "%s" in %s: %s.' },
  { code: 'MSH0203', name: 'InvalidPercent', level: 'Error', description: 'A percentage is outside 0..100.', template: 'Invalid percentage %s in %s: must be between 0 and 100.' },
  { code: 'MSH0204', name: 'RetryWithoutTimeoutBudget', level: 'Warning', description: 'Retries cannot happen because the route timeout is used up by the first try.', template: 'perTryTimeout %s is not shorter than the route timeout %s: no retry can happen before the request times out.' },
  { code: 'MSH0205', name: 'MirrorToPrimaryDestination', level: 'Warning', description: 'A route mirrors traffic to the destination it already routes to.', template: 'Mirror destination %s is also a route destination: requests routed there reach the same workloads twice.' },
  { code: 'MSH0206', name: 'FaultOnEveryRequest', level: 'Warning', description: 'A fault applies to every request of a route without a match.', template: 'Fault %s applies to every request of %s (no match, %s%%): all traffic to the host is affected.' },
  { code: 'MSH0301', name: 'CelRuleViolation', level: 'Error', description: 'The resource breaks a CEL validation rule of its CRD; the API server would refuse it.', template: 'CEL validation failed at %s: %s' },
  { code: 'MSH0401', name: 'StrictMtlsClientsWithoutSidecar', level: 'Warning', description: 'mTLS is STRICT for a workload whose clients have no sidecar.', template: 'PeerAuthentication requires STRICT mTLS in %s but %s has no sidecar and cannot send mTLS; its requests will be refused.' },
  { code: 'MSH0402', name: 'AuthorizationPolicyUnknownReference', level: 'Warning', description: 'An AuthorizationPolicy names a namespace or service account that does not exist.', template: 'AuthorizationPolicy references unknown %s "%s".%s' },
  { code: 'MSH0403', name: 'AuthorizationPolicyDeniesAll', level: 'Warning', description: 'An AuthorizationPolicy denies (or allows nothing to) every request, probably by accident.', template: 'AuthorizationPolicy %s: every request to the selected workloads is denied.' },
  { code: 'MSH0404', name: 'JwtRuleWithoutRequestAuthentication', level: 'Error', description: 'An AuthorizationPolicy uses JWT principals or claims but no RequestAuthentication validates JWTs.', template: 'AuthorizationPolicy uses %s but no RequestAuthentication applies in namespace %s: the rule can never match.' },
  { code: 'MSH0501', name: 'PodWithoutVersionLabel', level: 'Warning', description: 'A workload behind a subset-routed service has no version label.', template: '%s backs service %s, whose traffic is routed by subset, but has no "%s" label; no subset route reaches it.' },
  { code: 'MSH0502', name: 'SidecarOlderThanControlPlane', level: 'Warning', description: 'A pod runs a sidecar older than the control plane.', template: 'Pod %s runs proxy %s, older than the control plane %s; restart it to upgrade.' },
];

const byCode = new Map(MESSAGES.map((m) => [m.code, m]));

export function messageType(code: string): MessageType {
  const m = byCode.get(code);
  if (!m) throw new Error(`unknown analysis message code ${code}`);
  return m;
}

export function formatTemplate(template: string, args: readonly (string | number)[]): string {
  let i = 0;
  return template.replace(/%[s%]/g, (t) => (t === '%%' ? '%' : String(args[i++] ?? '')));
}
