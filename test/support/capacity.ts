/**
 * Node capacity arithmetic for test/capacity.test.ts: what a node offers pods (allocatable)
 * and whether a set of pod requests packs onto a number of nodes. Pure; the test reads the
 * tfvars, environment.yaml, version files and terraform/platform-budget.yaml.
 */

/** EC2 shapes the tfvars may name: vCPUs, memory (MiB) and EKS's max pods for the VPC CNI. */
export interface InstanceType {
  vcpu: number;
  memoryMiB: number;
  /**
   * Max pods with the VPC CNI (no prefix delegation): ENIs × (IPv4 per ENI − 1) + 2, as listed in
   * https://github.com/awslabs/amazon-eks-ami/blob/main/nodeadm/internal/kubelet/eni-max-pods.txt
   */
  maxPods: number;
}

// https://aws.amazon.com/ec2/instance-types/m7i/ and /m6i/ (vCPU, memory), ENI limits as above.
export const INSTANCE_TYPES: Record<string, InstanceType> = {
  "m6i.large": { vcpu: 2, memoryMiB: 8192, maxPods: 29 },
  "m6i.xlarge": { vcpu: 4, memoryMiB: 16384, maxPods: 58 },
  "m6i.2xlarge": { vcpu: 8, memoryMiB: 32768, maxPods: 58 },
  "m7i.large": { vcpu: 2, memoryMiB: 8192, maxPods: 29 },
  "m7i.xlarge": { vcpu: 4, memoryMiB: 16384, maxPods: 58 },
  "m7i.2xlarge": { vcpu: 8, memoryMiB: 32768, maxPods: 58 },
};

/**
 * The part of instance memory the kernel and firmware leave to the kubelet's capacity: Karpenter
 * assumes 7.5 % goes before the node reports (settings.vmMemoryOverheadPercent, default 0.075,
 * https://karpenter.sh/docs/reference/settings/), so we do too.
 */
export const VM_MEMORY_OVERHEAD = 0.075;

export interface Resources {
  /** millicores */
  cpu: number;
  /** MiB */
  memory: number;
}

export interface Allocatable extends Resources {
  pods: number;
}

/**
 * What the kubelet on an EKS AL2023 node offers pods: capacity − kube-reserved − eviction
 * threshold (no system-reserved is set). nodeadm's defaults
 * (https://github.com/awslabs/amazon-eks-ami/blob/main/nodeadm/internal/kubelet/config.go,
 * getCPUMillicoresToReserve, getMemoryMebibytesToReserve, evictionHard):
 *   cpu    6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % of the rest;
 *   memory 11 MiB × maxPods + 255 MiB; eviction at memory.available < 100 Mi.
 */
export function allocatable(type: InstanceType): Allocatable {
  const total = type.vcpu * 1000;
  const ranges: [number, number, number][] = [
    [0, 1000, 600],
    [1000, 2000, 100],
    [2000, 4000, 50],
    [4000, Number.POSITIVE_INFINITY, 25],
  ];
  const cpuReserved = ranges.reduce(
    (sum, [start, end, basisPoints]) =>
      total <= start ? sum : sum + Math.floor(((Math.min(total, end) - start) * basisPoints) / 10000),
    0,
  );
  const capacityMiB = Math.floor(type.memoryMiB * (1 - VM_MEMORY_OVERHEAD));
  const memoryReserved = 11 * type.maxPods + 255;
  return { cpu: total - cpuReserved, memory: capacityMiB - memoryReserved - 100, pods: type.maxPods };
}

/** Kubernetes quantities: the generator's one parser. */
export { mebibytes, milliCpu } from "../../generator/src/quantity.ts";

export interface Pod extends Resources {
  name: string;
}

/**
 * First-fit decreasing onto `nodes` identical nodes, each first loaded with the daemonsets.
 * Returns the pods that found no node (empty: everything fits).
 */
export function pack(pods: Pod[], nodes: number, node: Allocatable, daemonsets: Resources[]): Pod[] {
  const ds = daemonsets.reduce((a, d) => ({ cpu: a.cpu + d.cpu, memory: a.memory + d.memory }), {
    cpu: 0,
    memory: 0,
  });
  const free = Array.from({ length: nodes }, () => ({
    cpu: node.cpu - ds.cpu,
    memory: node.memory - ds.memory,
    pods: node.pods - daemonsets.length,
  }));
  const unplaced: Pod[] = [];
  const order = [...pods].sort((a, b) => b.cpu - a.cpu || b.memory - a.memory);
  for (const pod of order) {
    const n = free.find((f) => f.cpu >= pod.cpu && f.memory >= pod.memory && f.pods >= 1);
    if (!n) {
      unplaced.push(pod);
      continue;
    }
    n.cpu -= pod.cpu;
    n.memory -= pod.memory;
    n.pods -= 1;
  }
  return unplaced;
}

/** How many nodes of a type a NodePool's limits (sum of node vCPUs and GiB) let Karpenter run. */
export function nodesWithinLimits(type: InstanceType, cpuLimit: number, memoryLimitGiB: number): number {
  return Math.min(Math.floor(cpuLimit / type.vcpu), Math.floor((memoryLimitGiB * 1024) / type.memoryMiB));
}
