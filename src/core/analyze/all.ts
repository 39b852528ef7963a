import type { Analyzer } from './types.js';
import { authorizationDenyAll } from './analyzers/authorization-deny-all.js';
import { authorizationReferences } from './analyzers/authorization-references.js';
import { inputRedefinitions } from './analyzers/input-redefinitions.js';
import { jwtRequestAuthentication } from './analyzers/jwt-request-authentication.js';
import { mtlsConflict } from './analyzers/mtls-conflict.js';
import { mtlsStrictClients } from './analyzers/mtls-strict-clients.js';
import { podMissingProxy } from './analyzers/pod-missing-proxy.js';
import { proxyVersion } from './analyzers/proxy-version.js';
import { servicePortNames } from './analyzers/service-port-names.js';
import { workloadVersionLabels } from './analyzers/workload-version-labels.js';
import { destinationRuleConflicts } from './analyzers/destinationrule-conflicts.js';
import { destinationRuleHost } from './analyzers/destinationrule-host.js';
import { destinationRuleSubsetWorkloads } from './analyzers/destinationrule-subset-workloads.js';
import { durationsAndPercentages } from './analyzers/durations-percentages.js';
import { gatewayConflicts } from './analyzers/gateway-conflicts.js';
import { gatewaySelector } from './analyzers/gateway-selector.js';
import { peerAuthenticationConflicts } from './analyzers/peerauthentication-conflicts.js';
import { regexes } from './analyzers/regex.js';
import { schema } from './analyzers/schema.js';
import { selectorWorkloads } from './analyzers/selector-workloads.js';
import { serviceEntryConflicts } from './analyzers/serviceentry-conflicts.js';
import { sidecarSelectors } from './analyzers/sidecar-selectors.js';
import { virtualServiceConflictingHosts } from './analyzers/virtualservice-conflicting-hosts.js';
import { virtualServiceDelegates } from './analyzers/virtualservice-delegates.js';
import { virtualServiceDestinationHosts } from './analyzers/virtualservice-destination-hosts.js';
import { virtualServiceDestinationSubsets } from './analyzers/virtualservice-destination-subsets.js';
import { virtualServiceFault } from './analyzers/virtualservice-fault.js';
import { virtualServiceGateways } from './analyzers/virtualservice-gateways.js';
import { virtualServiceMirror } from './analyzers/virtualservice-mirror.js';
import { virtualServiceRetries } from './analyzers/virtualservice-retries.js';
import { virtualServiceUnreachableRules } from './analyzers/virtualservice-unreachable-rules.js';
import { virtualServiceWeights } from './analyzers/virtualservice-weights.js';

/** Every analyzer, sorted by name (istio's analyzers/all.go). Add one line per new analyzer. */
export const ALL_ANALYZERS: readonly Analyzer[] = [
  authorizationDenyAll,
  authorizationReferences,
  inputRedefinitions,
  jwtRequestAuthentication,
  mtlsConflict,
  mtlsStrictClients,
  podMissingProxy,
  proxyVersion,
  servicePortNames,
  workloadVersionLabels,
  durationsAndPercentages,
  destinationRuleConflicts,
  destinationRuleHost,
  destinationRuleSubsetWorkloads,
  gatewayConflicts,
  gatewaySelector,
  peerAuthenticationConflicts,
  serviceEntryConflicts,
  sidecarSelectors,
  virtualServiceConflictingHosts,
  virtualServiceDelegates,
  virtualServiceDestinationHosts,
  virtualServiceDestinationSubsets,
  virtualServiceFault,
  virtualServiceGateways,
  virtualServiceMirror,
  regexes,
  schema,
  selectorWorkloads,
  virtualServiceRetries,
  virtualServiceUnreachableRules,
  virtualServiceWeights,
].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** The kinds any analyzer reads: what cluster mode lists and `cluster snapshot` saves. */
export function inputKinds(analyzers: readonly Analyzer[] = ALL_ANALYZERS): string[] {
  return [...new Set(analyzers.flatMap((a) => a.inputs))].sort();
}
