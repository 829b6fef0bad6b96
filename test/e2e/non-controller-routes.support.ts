/**
 * The app of the non-controller-route tests (test/e2e/non-controller-routes.spec.ts and
 * test/browser/graphql.spec.ts): a schema-first GraphQL API (`@nestjs/graphql` +
 * `@nestjs/apollo`, Apollo Server 5 on Express) and one controller that takes a JSON body.
 */
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Body, Controller, Get, Post } from '@nestjs/common';
import { Args, GraphQLModule, Mutation, Query, Resolver } from '@nestjs/graphql';

/** Schema-first: no TypeScript plugin, no class-validator, no ts-morph. */
export const typeDefs = /* GraphQL */ `
  type Note {
    id: Int!
    text: String!
  }

  type Query {
    hello(name: String): String!
    notes: [Note!]!
  }

  type Mutation {
    addNote(text: String!): Note!
  }
`;

interface Note {
  id: number;
  text: string;
}

@Resolver()
export class NotesResolver {
  private readonly notes: Note[] = [];

  @Query('hello')
  hello(@Args('name') name: string | null): string {
    return `hello ${name ?? 'world'}`;
  }

  @Query('notes')
  list(): Note[] {
    return this.notes;
  }

  @Mutation('addNote')
  addNote(@Args('text') text: string): Note {
    const note = { id: this.notes.length + 1, text };
    this.notes.push(note);
    return note;
  }
}

/** A controller route with a JSON body: the target of the body-parser errors. */
@Controller('notes')
export class NotesController {
  @Get()
  list(): string {
    return 'notes';
  }

  @Post()
  create(@Body() body: unknown): unknown {
    return { received: body };
  }
}

/** `GraphQLModule` on `/graphql` with Apollo's defaults (CSRF prevention on, no `cors` option). */
export function graphqlModule() {
  return GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, typeDefs });
}

/** The JSON body of a GraphQL POST. */
export function gql(query: string, variables?: Record<string, unknown>): string {
  return JSON.stringify(variables === undefined ? { query } : { query, variables });
}
