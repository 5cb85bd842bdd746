// An error the simulated EC2 answers with: the code and message go into the EC2 error XML, and the
// HTTP status follows EC2 (400 client errors, 401 AuthFailure, 412 DryRunOperation, 500
// InternalError, 503 RequestLimitExceeded).

export class Ec2ApiError extends Error {
  readonly code: string;
  readonly httpStatus: number;

  constructor(code: string, message: string, httpStatus = 400) {
    super(message);
    this.name = 'Ec2ApiError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

export function invalidParameterValue(message: string): Ec2ApiError {
  return new Ec2ApiError('InvalidParameterValue', message);
}

export function missingParameter(name: string): Ec2ApiError {
  return new Ec2ApiError('MissingParameter', `The request must contain the parameter ${name}`);
}

export function insufficientCapacityOnHost(hostId: string): Ec2ApiError {
  return new Ec2ApiError('InsufficientCapacityOnHost', `Insufficient capacity on host ${hostId}.`);
}

export function instanceIdsNotFound(ids: readonly string[]): Ec2ApiError {
  const message =
    ids.length === 1
      ? `The instance ID '${ids[0]}' does not exist`
      : `The instance IDs '${ids.join(', ')}' do not exist`;
  return new Ec2ApiError('InvalidInstanceID.NotFound', message);
}

export function malformedInstanceId(id: string): Ec2ApiError {
  return new Ec2ApiError('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
}

export function hostIdNotFound(id: string): Ec2ApiError {
  return new Ec2ApiError('InvalidHostID.NotFound', `The host ID '${id}' does not exist`);
}

export function malformedHostId(id: string): Ec2ApiError {
  return new Ec2ApiError('InvalidHostID.Malformed', `Invalid id: "${id}" (expecting "h-...")`);
}

export function launchTemplateNameNotFound(name: string): Ec2ApiError {
  return new Ec2ApiError(
    'InvalidLaunchTemplateName.NotFoundException',
    `The specified launch template, with template name ${name}, does not exist.`,
  );
}

export function launchTemplateIdNotFound(id: string): Ec2ApiError {
  return new Ec2ApiError(
    'InvalidLaunchTemplateId.NotFound',
    `The specified launch template, with template ID ${id}, does not exist.`,
  );
}

export function idempotentParameterMismatch(): Ec2ApiError {
  return new Ec2ApiError(
    'IdempotentParameterMismatch',
    'The client token you have provided is associated with a resource that is already deleted or has different parameters.',
  );
}
